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
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;
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

/// One module's intel, checked once when the file is read: the context
/// (or why it was refused) with the per-kill fields still to fill in.
struct Prepared {
    context: Result<SiemContext, SiemError>,
    /// The entry names its own `query_id` / `timestamp` (else the kill's).
    own_query_id: bool,
    own_timestamp: bool,
}

/// Stands in for the kill while an entry is checked at load.
const PLACEHOLDER_KILL: &str = "intel-file-check";

impl Prepared {
    /// Checks an entry as a SIEM answer would be (ranges, sizes, times),
    /// once, instead of for every kill.
    fn new(entry: &Value) -> Prepared {
        let mut answer = entry.clone();
        let (mut own_query_id, mut own_timestamp) = (false, false);
        if let Some(o) = answer.as_object_mut() {
            own_query_id = o.get("query_id").is_some_and(|v| !v.is_null());
            own_timestamp = o.get("timestamp").is_some_and(|v| !v.is_null());
            o.insert("kill_id".into(), Value::String(PLACEHOLDER_KILL.into()));
            if !own_query_id {
                o.insert("query_id".into(), Value::String("intel-file:".into()));
            }
            if !own_timestamp {
                o.insert(
                    "timestamp".into(),
                    Value::String("1970-01-01T00:00:00Z".into()),
                );
            }
        }
        Prepared {
            context: sanitize::context(&answer, PLACEHOLDER_KILL),
            own_query_id,
            own_timestamp,
        }
    }

    /// The context for one kill: the checked intel with the kill's id, and
    /// the kill's query id and time where the entry names none.
    fn for_kill(&self, kill: &KillReport) -> Result<SiemContext, SiemError> {
        let mut ctx = self.context.clone()?;
        ctx.kill_id.clone_from(&kill.kill_id);
        if !self.own_query_id {
            ctx.query_id = format!("intel-file:{}", kill.kill_id);
        }
        if !self.own_timestamp {
            ctx.timestamp = kill.timestamp;
        }
        Ok(ctx)
    }
}

/// The intel file, each entry checked.
struct Intel {
    default: Option<Arc<Prepared>>,
    modules: BTreeMap<String, Arc<Prepared>>,
}

impl From<IntelFile> for Intel {
    fn from(file: IntelFile) -> Intel {
        Intel {
            default: file.default.as_ref().map(|v| Arc::new(Prepared::new(v))),
            modules: file
                .modules
                .iter()
                .map(|(m, v)| (m.clone(), Arc::new(Prepared::new(v))))
                .collect(),
        }
    }
}

struct Loaded {
    intel: Intel,
    modified: Option<SystemTime>,
    checked: Instant,
}

pub struct FileSiem {
    path: PathBuf,
    state: Mutex<Loaded>,
}

fn read(path: &Path) -> Result<(Intel, Option<SystemTime>), SiemError> {
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let text = std::fs::read_to_string(path).map_err(|e| {
        SiemError::Configuration(format!("cannot read intel file {}: {e}", path.display()))
    })?;
    let intel: IntelFile = serde_yaml::from_str(&text)
        .map_err(|e| SiemError::Configuration(format!("intel file {}: {e}", path.display())))?;
    Ok((intel.into(), modified))
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

    /// A module's intel (or the default), from the file as it is now: re-read
    /// if it changed. A file that stops parsing keeps the last good intel
    /// (and says so in the log).
    fn intel_for(&self, module: &str) -> Option<Arc<Prepared>> {
        let mut s = self.state.lock();
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
        s.intel
            .modules
            .get(module)
            .or(s.intel.default.as_ref())
            .cloned()
    }
}

impl SiemAdapter for FileSiem {
    fn query_context<'a>(
        &'a self,
        kill: &'a KillReport,
    ) -> BoxFuture<'a, Result<SiemContext, SiemError>> {
        Box::pin(async move {
            self.intel_for(&kill.target_module)
                .ok_or_else(|| SiemError::NotFound(kill.target_module.clone()))?
                .for_kill(kill)
        })
    }

    fn health_check(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move { self.path.is_file() })
    }

    fn kind(&self) -> &'static str {
        "file"
    }
}
