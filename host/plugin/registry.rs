//! Every loaded plugin, which ones judge in the current phase, and atomic
//! swaps between versions.
//!
//! The serving set (one scorer, one strategy, one learner) lives behind an
//! `ArcSwap`: a call takes the set as it is, so a call in flight during a
//! swap finishes on the old version and the next call sees the new one. A
//! plugin is swapped in only after it compiled, matched its world, described
//! itself and passed the golden kills; otherwise the old one keeps serving.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde::Serialize;

use super::error::{LoadError, PluginError};
use super::gate::{GateReport, Override, SwapGate};
use super::loaded::{HealthReport, Plugin, PluginSource, Prepared, Resolved};
use super::sandbox::Sandbox;
use super::signature::{Signer, Trust};
use super::{
    BUILTIN_PLUGINS, DecideRequest, LearnRequest, RuntimeSettings, ScoreRequest, golden,
    learner_settings_from_config, thresholds_from_config,
};
use crate::config::raw::{PhasePlugins, PluginBinding, ShadowPlugins};
use crate::config::{Config, Phase};
use crate::model::{NamedValues, PluginKind, RiskAssessment, ThresholdAdjustment, Verdict};

/// The plugins a kind falls back to when its own is quarantined: the most
/// cautious built-ins. A quarantined learner proposes nothing.
const SAFE_SCORER: &str = "weighted";
const SAFE_STRATEGY: &str = "conservative";

/// How many reload events are kept for listings.
const EVENT_HISTORY: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("{kind} `{name}` is bound for {phase}, but {problem}")]
    Binding {
        phase: String,
        kind: PluginKind,
        name: String,
        problem: String,
    },
    #[error("{path}: {problem}")]
    Conflict { path: PathBuf, problem: String },
    #[error(transparent)]
    Signature(#[from] super::signature::SignatureError),
    #[error(transparent)]
    Trust(#[from] super::signature::TrustError),
    #[error(transparent)]
    Gate(#[from] super::gate::GateRefusal),
    #[error("{phase} has no shadow to promote (plugins.{phase}.shadow in the constitution)")]
    NoShadow { phase: String },
    #[error("cannot read the plugin directory {path}: {source}")]
    Directory {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A call's result with who served it: the plugin's name, version and
/// sha256, and why a fallback served instead, if one did.
#[derive(Clone, Debug)]
pub struct Served<T> {
    pub value: Result<T, PluginError>,
    pub plugin: String,
    pub version: String,
    pub sha256: String,
    pub fallback: Option<String>,
}

/// One row of `medic plugin list`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PluginStatus {
    pub name: String,
    pub kind: PluginKind,
    pub version: String,
    pub sha256: String,
    /// `{"type": "builtin"}` or `{"type": "file", "path": …}`.
    #[schema(value_type = Object)]
    pub source: PluginSource,
    pub loaded_at: DateTime<Utc>,
    /// `active`, `loaded`, `quarantined`, or `overridden` (a built-in
    /// replaced by a file of the same name).
    pub status: String,
    pub description: String,
    pub health: HealthReport,
    /// Who signed it: built in, a trusted key, or unsigned.
    pub signer: Signer,
}

/// What happened to one file on a reload.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ReloadEvent {
    pub at: DateTime<Utc>,
    #[schema(value_type = String)]
    pub path: PathBuf,
    /// `loaded`, `replaced`, `unchanged`, `removed`, or `rejected`.
    pub outcome: String,
    pub plugin: Option<String>,
    pub message: String,
    /// What the replay gate found, when the swap changed what serves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateReport>,
}

/// The plugins serving now.
pub struct ActiveSet {
    pub phase: Phase,
    pub scorer: Arc<Plugin>,
    pub strategy: Arc<Plugin>,
    pub learner: Arc<Plugin>,
    /// The phase's shadow (scorer, strategy), if one is bound.
    pub shadow: Option<(Arc<Plugin>, Arc<Plugin>)>,
}

#[derive(Clone)]
struct Entry {
    plugin: Arc<Plugin>,
    /// The built-in of the same name, restored when the file goes away.
    builtin: Option<Arc<Plugin>>,
}

#[derive(Clone, Default)]
struct Catalog {
    by_name: BTreeMap<String, Entry>,
    /// Plugin files and the name each provides.
    files: BTreeMap<PathBuf, String>,
}

pub struct Registry {
    sandbox: Arc<Sandbox>,
    settings: RuntimeSettings,
    /// The thresholds plugins are given: from config, then as learned or
    /// set by an operator (swapped whole, never edited in place).
    thresholds: ArcSwap<NamedValues>,
    learner_settings: NamedValues,
    /// From the constitution, then as bound at run time.
    bindings: Mutex<BTreeMap<String, PhasePlugins>>,
    directory: Option<PathBuf>,
    /// The keys plugin files may be signed with (`plugins.trust`).
    trust: Trust,
    catalog: Mutex<Catalog>,
    active: ArcSwap<ActiveSet>,
    events: Mutex<VecDeque<ReloadEvent>>,
    /// Every reload event as it happens, for whoever audits them.
    published: tokio::sync::broadcast::Sender<ReloadEvent>,
    /// What replays a swap on history before it takes effect (none until
    /// the engine installs one).
    gate: Mutex<Option<Arc<dyn SwapGate>>>,
    /// The plugins' named numbers resolved against the thresholds in force
    /// ([`Plugin::resolve`]), so that a kill's calls skip the lookups by
    /// name: kept while the thresholds are the same `Arc`, one per plugin
    /// that judged under them.
    resolved: Mutex<Option<ResolvedUnder>>,
}

/// Plugins' resolutions under one set of thresholds.
type ResolvedUnder = (Arc<NamedValues>, Vec<Arc<Resolved>>);

/// How many plugins' resolutions [`Registry::resolved_for`] keeps under one
/// set of thresholds (swaps add plugins; the oldest are dropped).
const RESOLVED_KEPT: usize = 8;

impl Registry {
    /// Loads the built-ins and the plugin directory, and binds the plugins
    /// of the active phase. Any bound plugin missing is an error.
    pub fn new(config: &Config) -> Result<Registry, RegistryError> {
        Registry::build(config, true)
    }

    /// Like [`Registry::new`], but a plugin file that fails a check (or a
    /// binding that cannot be met) is recorded as a rejected event and
    /// skipped instead of failing: for `medic plugin list`, to show what
    /// would be refused and why.
    pub fn inspect(config: &Config) -> Result<Registry, RegistryError> {
        Registry::build(config, false)
    }

    fn build(config: &Config, strict: bool) -> Result<Registry, RegistryError> {
        let sandbox = Arc::new(Sandbox::new(&config.medic.plugins)?);
        let trust = Trust::from_config(&config.medic.plugins.trust)?;
        let settings = RuntimeSettings::from_config(config);
        let thresholds = thresholds_from_config(config);
        let learner_settings = learner_settings_from_config(config);
        let mut catalog = Catalog::default();
        for (crate_name, bytes) in BUILTIN_PLUGINS {
            let plugin = Plugin::load(&sandbox, &settings, bytes, PluginSource::Builtin, None)?;
            golden::check(&plugin, &thresholds, &learner_settings)?;
            tracing::debug!(
                plugin = crate_name,
                sha256 = plugin.sha256(),
                "Loaded built-in plugin"
            );
            let plugin = Arc::new(plugin);
            catalog.by_name.insert(
                plugin.name().to_string(),
                Entry {
                    plugin: plugin.clone(),
                    builtin: Some(plugin),
                },
            );
        }
        let directory = config.medic.plugins.directory.clone();
        let phase = config.active_phase();
        let bindings = config.constitution.plugins.clone();
        // The safe defaults serve until the directory is loaded and the
        // constitution's bindings can be resolved.
        let active = resolve(&catalog, &BTreeMap::new(), phase)?;
        let registry = Registry {
            sandbox,
            settings,
            thresholds: ArcSwap::from_pointee(thresholds),
            resolved: Mutex::new(None),
            learner_settings,
            bindings: Mutex::new(bindings),
            directory,
            trust,
            catalog: Mutex::new(catalog),
            active: ArcSwap::from_pointee(active),
            events: Mutex::new(VecDeque::new()),
            published: tokio::sync::broadcast::Sender::new(EVENT_HISTORY),
            gate: Mutex::new(None),
        };
        if let Some(dir) = registry.directory.clone() {
            for path in wasm_files(&dir)? {
                // At start a bad file is an error: better not to start than
                // to run without the plugin the operator installed.
                match registry.load_file(&path) {
                    Ok(_) => {}
                    Err(e) if strict => return Err(e),
                    // Recorded as a rejected event by load_file.
                    Err(_) => {}
                }
            }
        }
        let set = if strict {
            resolve(&registry.catalog.lock(), &registry.bindings.lock(), phase)?
        } else {
            let previous = registry.active.load_full();
            resolve_lenient(
                &registry.catalog.lock(),
                &registry.bindings.lock(),
                phase,
                &previous,
            )
        };
        registry.active.store(Arc::new(set));
        Ok(registry)
    }

    pub fn settings(&self) -> &RuntimeSettings {
        &self.settings
    }
    pub fn sandbox(&self) -> &Arc<Sandbox> {
        &self.sandbox
    }
    /// The keys plugin files may be signed with.
    pub fn trust(&self) -> &Trust {
        &self.trust
    }

    /// Installs the replay gate every later swap must pass.
    pub fn set_gate(&self, gate: Arc<dyn SwapGate>) {
        *self.gate.lock() = Some(gate);
    }

    /// Replays the plugins from files that serve a phase a mode runs in (as
    /// loaded at start, before the gate existed) on the kills of known
    /// truth: refused if one would revive a kill known to be a threat.
    /// `medic serve` calls it once the engine (and its gate) is built, and
    /// does not start on a refusal.
    pub fn gate_loaded_files(&self) -> Result<Vec<GateReport>, RegistryError> {
        let Some(gate) = self.gate.lock().clone() else {
            return Ok(Vec::new());
        };
        let catalog = self.catalog.lock();
        let bindings = self.bindings.lock();
        let from_file = |p: &Arc<Plugin>| matches!(p.source(), PluginSource::File(_));
        let mut reports = Vec::new();
        for phase in crate::config::phases::MODE_PHASES {
            let Ok(set) = resolve(&catalog, &bindings, phase) else {
                continue;
            };
            if from_file(&set.scorer) || from_file(&set.strategy) {
                reports.push(gate.check_alone(&set)?);
            }
        }
        Ok(reports)
    }

    /// Runs the replay gate on `plugin` as if loaded from `path`, without
    /// loading it (an upload asks before it writes the file).
    pub fn check_candidate(
        &self,
        path: &Path,
        plugin: &Arc<Plugin>,
        over: Option<&Override>,
    ) -> Result<Option<GateReport>, RegistryError> {
        let catalog = self.catalog.lock();
        let (next, _) = with_file(&catalog, path, plugin);
        self.gate_catalog(&catalog, &next, over)
    }

    /// The gate on the catalog becoming `next`, the bindings as they are
    /// ([`Registry::gate_phases`]).
    fn gate_catalog(
        &self,
        catalog: &Catalog,
        next: &Catalog,
        over: Option<&Override>,
    ) -> Result<Option<GateReport>, RegistryError> {
        let bindings = self.bindings.lock();
        self.gate_phases((catalog, &bindings), (next, &bindings), over)
    }

    /// The gate on every phase a mode runs in whose scorer or strategy
    /// would change from (`catalog`, `bindings`) to (`next`,
    /// `next_bindings`): a phase not serving now may serve after a mode
    /// switch, which is not gated, so its plugins are checked when they
    /// change. The first refusal wins; otherwise the report of the phase
    /// serving now, or of the first phase that changed.
    fn gate_phases(
        &self,
        (catalog, bindings): (&Catalog, &BTreeMap<String, PhasePlugins>),
        (next, next_bindings): (&Catalog, &BTreeMap<String, PhasePlugins>),
        over: Option<&Override>,
    ) -> Result<Option<GateReport>, RegistryError> {
        let serving = self.active.load().phase;
        let mut found: Option<(Phase, GateReport)> = None;
        for phase in crate::config::phases::MODE_PHASES {
            let (Ok(before), Ok(after)) = (
                resolve(catalog, bindings, phase),
                resolve(next, next_bindings, phase),
            ) else {
                continue;
            };
            if let Some(report) = self.gated(&before, &after, over)?
                && (found.is_none() || phase == serving)
            {
                found = Some((phase, report));
            }
        }
        Ok(found.map(|(_, r)| r))
    }

    /// Asks the gate whether `next` may serve instead of `serving` (both
    /// sets of one phase): only a change of the scorer or the strategy is
    /// replayed.
    /// Refused unless `over` says an admin lets it through (the report is
    /// returned either way, to be audited).
    fn gated(
        &self,
        serving: &ActiveSet,
        next: &ActiveSet,
        over: Option<&Override>,
    ) -> Result<Option<GateReport>, RegistryError> {
        let same = |a: &Arc<Plugin>, b: &Arc<Plugin>| a.sha256() == b.sha256();
        if same(&serving.scorer, &next.scorer) && same(&serving.strategy, &next.strategy) {
            return Ok(None);
        }
        let Some(gate) = self.gate.lock().clone() else {
            return Ok(None);
        };
        match gate.check(serving, next) {
            Ok(report) => Ok(Some(report)),
            Err(refusal) => match over {
                Some(o) => {
                    tracing::warn!(actor = %o.actor, reason = %o.reason, refusal = %refusal, "Replay gate overridden by an admin");
                    Ok(Some(refusal.report))
                }
                None => Err(refusal.into()),
            },
        }
    }
    /// The thresholds in force now.
    pub fn thresholds(&self) -> Arc<NamedValues> {
        self.thresholds.load_full()
    }

    /// Replaces the thresholds in force (checked by the caller).
    pub fn set_thresholds(&self, values: NamedValues) {
        self.thresholds.store(Arc::new(values));
    }
    pub fn directory(&self) -> Option<&Path> {
        self.directory.as_deref()
    }

    /// The plugins serving now (a snapshot: swaps do not change it).
    pub fn active(&self) -> Arc<ActiveSet> {
        self.active.load_full()
    }

    /// Switches to the plugins bound to another phase.
    pub fn set_phase(&self, phase: Phase) -> Result<(), RegistryError> {
        let set = resolve(&self.catalog.lock(), &self.bindings.lock(), phase)?;
        self.active.store(Arc::new(set));
        tracing::info!(phase = %phase, "Plugins bound for phase");
        Ok(())
    }

    /// Binds the plugin `binding` names as the one of `kind` for `phase_key`
    /// (a phase's name, or `default` for phases without their own), at run
    /// time: it must be loaded, of that kind, and match its pin. If the
    /// phase serving now is affected, the swap happens at once.
    pub fn bind(
        &self,
        phase_key: &str,
        kind: PluginKind,
        binding: PluginBinding,
    ) -> Result<Arc<ActiveSet>, RegistryError> {
        self.bind_overriding(phase_key, kind, binding, None)
            .map(|(set, _)| set)
    }

    /// [`Registry::bind`], through the replay gate (its refusal overridden
    /// by an admin if `over` is given); with what the gate found when the
    /// binding changed what serves.
    pub fn bind_overriding(
        &self,
        phase_key: &str,
        kind: PluginKind,
        binding: PluginBinding,
        over: Option<&Override>,
    ) -> Result<(Arc<ActiveSet>, Option<GateReport>), RegistryError> {
        self.bind_with(phase_key, kind, binding, Some(over))
    }

    /// [`Registry::bind`] of a binding the replay gate has already let
    /// through: made at run time and stored, read back at start-up or from
    /// another replica sharing the store. It is not replayed again.
    pub fn adopt(
        &self,
        phase_key: &str,
        kind: PluginKind,
        binding: PluginBinding,
    ) -> Result<Arc<ActiveSet>, RegistryError> {
        self.bind_with(phase_key, kind, binding, None)
            .map(|(set, _)| set)
    }

    /// Binds through the gate (`Some`, overridden by an admin if it holds
    /// one) or without it (`None`: the gate has passed it before).
    fn bind_with(
        &self,
        phase_key: &str,
        kind: PluginKind,
        binding: PluginBinding,
        gate: Option<Option<&Override>>,
    ) -> Result<(Arc<ActiveSet>, Option<GateReport>), RegistryError> {
        let catalog = self.catalog.lock();
        let serving = self.active.load_full();
        let phase = match Phase::from_name(phase_key) {
            Some(p) => p,
            None if phase_key == crate::config::DEFAULT_BINDING => serving.phase,
            None => {
                return Err(RegistryError::Binding {
                    phase: phase_key.to_string(),
                    kind,
                    name: binding.name,
                    problem: format!(
                        "there is no such phase (phase_0_foundation … phase_5_full_auto, or {})",
                        crate::config::DEFAULT_BINDING
                    ),
                });
            }
        };
        pick(&catalog, phase, kind, &binding)?;
        let mut bindings = self.bindings.lock();
        // What the key binds now: a phase its own entry or the default's.
        let current = if phase_key == crate::config::DEFAULT_BINDING {
            bindings.get(phase_key)
        } else {
            bindings_for(&bindings, phase)
        };
        let mut entry = current.cloned().unwrap_or_else(|| PhasePlugins {
            risk_scorer: default_binding(PluginKind::RiskScorer),
            strategy: default_binding(PluginKind::Strategy),
            threshold_learner: default_binding(PluginKind::ThresholdLearner),
            shadow: None,
        });
        match kind {
            PluginKind::RiskScorer => entry.risk_scorer = binding,
            PluginKind::Strategy => entry.strategy = binding,
            PluginKind::ThresholdLearner => entry.threshold_learner = binding,
        }
        let (set, report) =
            self.put_binding(&catalog, &mut bindings, phase_key, phase, entry, gate)?;
        tracing::info!(phase = phase_key, kind = %kind, plugin = %set_name(&set, kind), "Plugin bound at run time");
        Ok((set, report))
    }

    /// Puts `entry` in force as the bindings of `phase_key` (for `phase`):
    /// the phase and the one serving now must both resolve, and the change
    /// pass the replay gate, before anything changes.
    fn put_binding(
        &self,
        catalog: &Catalog,
        bindings: &mut BTreeMap<String, PhasePlugins>,
        phase_key: &str,
        phase: Phase,
        entry: PhasePlugins,
        gate: Option<Option<&Override>>,
    ) -> Result<(Arc<ActiveSet>, Option<GateReport>), RegistryError> {
        let serving = self.active.load_full();
        let mut next = bindings.clone();
        next.insert(phase_key.to_string(), entry);
        if phase != serving.phase {
            resolve(catalog, &next, phase)?;
        }
        let set = Arc::new(resolve(catalog, &next, serving.phase)?);
        let report = match gate {
            Some(over) => self.gate_phases((catalog, bindings), (catalog, &next), over)?,
            None => None,
        };
        *bindings = next;
        self.active.store(set.clone());
        Ok((set, report))
    }

    /// Makes `phase_key`'s shadow its scorer and strategy (through the
    /// replay gate, overridden by an admin if `over` is given); the phase
    /// has no shadow after. Returns the set serving now, what the gate
    /// found, and the plugins promoted.
    pub fn promote_shadow(
        &self,
        phase_key: &str,
        over: Option<&Override>,
    ) -> Result<(Arc<ActiveSet>, Option<GateReport>, ShadowPlugins), RegistryError> {
        let catalog = self.catalog.lock();
        let phase = Phase::from_name(phase_key).ok_or_else(|| RegistryError::Binding {
            phase: phase_key.to_string(),
            kind: PluginKind::Strategy,
            name: "(shadow)".to_string(),
            problem: "there is no such phase (phase_0_foundation … phase_5_full_auto)".into(),
        })?;
        let mut bindings = self.bindings.lock();
        let none = || RegistryError::NoShadow {
            phase: phase_key.to_string(),
        };
        let mut entry = bindings_for(&bindings, phase).cloned().ok_or_else(none)?;
        let shadow = entry.shadow.take().ok_or_else(none)?;
        entry.risk_scorer = shadow.risk_scorer.clone();
        entry.strategy = shadow.strategy.clone();
        let (set, report) =
            self.put_binding(&catalog, &mut bindings, phase_key, phase, entry, Some(over))?;
        tracing::warn!(phase = phase_key, scorer = %shadow.risk_scorer.name, strategy = %shadow.strategy.name, "Shadow promoted: it judges for real now");
        Ok((set, report, shadow))
    }

    /// The bindings in force, by phase key.
    pub fn bindings(&self) -> BTreeMap<String, PhasePlugins> {
        self.bindings.lock().clone()
    }

    /// Loads a plugin file, checks it, and swaps it in (replacing the
    /// plugin of the same name). A plugin that fails any check is rejected
    /// and whatever served before keeps serving.
    pub fn load_file(&self, path: &Path) -> Result<ReloadEvent, RegistryError> {
        self.load_file_overriding(path, None)
    }

    /// [`Registry::load_file`], with the replay gate's refusal overridden
    /// by an admin if `over` is given.
    pub fn load_file_overriding(
        &self,
        path: &Path,
        over: Option<&Override>,
    ) -> Result<ReloadEvent, RegistryError> {
        let result = self.try_load_file(path, over);
        let event = match &result {
            Ok(e) => e.clone(),
            Err(e) => rejected(path, e),
        };
        match &result {
            Ok(e) => {
                tracing::info!(path = %path.display(), outcome = %e.outcome, plugin = e.plugin.as_deref().unwrap_or(""), "{}", e.message)
            }
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "Plugin rejected; the previous version keeps serving")
            }
        }
        self.remember(event);
        result
    }

    fn try_load_file(
        &self,
        path: &Path,
        over: Option<&Override>,
    ) -> Result<ReloadEvent, RegistryError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let sha = super::cache::sha256_hex(&bytes);
        {
            let catalog = self.catalog.lock();
            if let Some(name) = catalog.files.get(path)
                && catalog
                    .by_name
                    .get(name)
                    .is_some_and(|e| e.plugin.sha256() == sha)
            {
                return Ok(self.event(
                    path,
                    "unchanged",
                    Some(name.clone()),
                    "same sha256 as the serving version".into(),
                ));
            }
        }
        // Who signed it, before any of it is compiled.
        let signer = self.trust.check_file(path, &bytes)?;
        // The slow part (compile, golden kills) runs without holding the lock.
        let plugin = Plugin::load(
            &self.sandbox,
            &self.settings,
            &bytes,
            PluginSource::File(path.to_path_buf()),
            None,
        )?
        .signed_by(signer);
        golden::check(&plugin, &self.thresholds(), &self.learner_settings)?;
        let plugin = Arc::new(plugin);
        let name = plugin.name().to_string();

        let mut catalog = self.catalog.lock();
        if let Some((other, _)) = catalog
            .files
            .iter()
            .find(|(p, n)| **n == name && p.as_path() != path)
        {
            return Err(RegistryError::Conflict {
                path: path.to_path_buf(),
                problem: format!("plugin `{name}` is already provided by {}", other.display()),
            });
        }
        if let Some(existing) = catalog.by_name.get(&name)
            && existing.plugin.kind() != plugin.kind()
        {
            return Err(RegistryError::Conflict {
                path: path.to_path_buf(),
                problem: format!(
                    "plugin `{name}` is a {}; this file implements {}",
                    existing.plugin.kind(),
                    plugin.kind()
                ),
            });
        }
        // The catalog with the file in, checked by the replay gate before
        // it takes the place of the one in force.
        let (next, replaced) = with_file(&catalog, path, &plugin);
        let report = self.gate_catalog(&catalog, &next, over)?;
        *catalog = next;
        self.rebind(&catalog);
        let message = format!(
            "{} {} {} (sha256 {}, {})",
            plugin.kind(),
            name,
            plugin.info().version,
            &plugin.sha256()[..12],
            plugin.signer()
        );
        let mut event = self.event(
            path,
            if replaced { "replaced" } else { "loaded" },
            Some(name),
            message,
        );
        event.gate = report;
        Ok(event)
    }

    /// Forgets the plugin a file provided (a built-in of the same name
    /// serves again). A phase bound to a plugin that is gone falls back to
    /// the safe default.
    pub fn remove_file(&self, path: &Path) -> Option<ReloadEvent> {
        let mut catalog = self.catalog.lock();
        let name = catalog.files.remove(path)?;
        drop_name(&mut catalog, &name);
        self.rebind(&catalog);
        let event = self.event(path, "removed", Some(name), "file removed".into());
        tracing::warn!(path = %path.display(), plugin = event.plugin.as_deref().unwrap_or(""), "Plugin file removed");
        drop(catalog);
        self.remember(event.clone());
        Some(event)
    }

    /// Reloads every file of the plugin directory (`medic plugin reload`,
    /// `POST /plugins/reload`): changed files are swapped, removed ones
    /// dropped, bad ones rejected while their predecessors keep serving.
    pub fn reload_directory(&self) -> Result<Vec<ReloadEvent>, RegistryError> {
        let Some(dir) = self.directory.clone() else {
            return Ok(Vec::new());
        };
        let present = wasm_files(&dir)?;
        let mut events = Vec::new();
        let known: Vec<PathBuf> = self.catalog.lock().files.keys().cloned().collect();
        for gone in known.iter().filter(|p| !present.contains(p)) {
            events.extend(self.remove_file(gone));
        }
        for path in present {
            match self.load_file(&path) {
                Ok(e) => events.push(e),
                Err(e) => events.push(rejected(&path, &e)),
            }
        }
        Ok(events)
    }

    /// Recomputes the serving set after the catalog changed. A binding that
    /// can no longer be satisfied keeps the safe default serving its kind.
    fn rebind(&self, catalog: &Catalog) {
        let previous = self.active.load_full();
        let phase = previous.phase;
        let bindings = self.bindings.lock();
        let set = resolve(catalog, &bindings, phase).unwrap_or_else(|e| {
            tracing::error!(error = %e, "Binding not satisfied: the safe default serves instead");
            resolve_lenient(catalog, &bindings, phase, &previous)
        });
        self.active.store(Arc::new(set));
    }

    fn event(
        &self,
        path: &Path,
        outcome: &str,
        plugin: Option<String>,
        message: String,
    ) -> ReloadEvent {
        ReloadEvent {
            at: Utc::now(),
            path: path.to_path_buf(),
            outcome: outcome.into(),
            plugin,
            message,
            gate: None,
        }
    }

    fn remember(&self, event: ReloadEvent) {
        let mut events = self.events.lock();
        // Sent under the history's lock, so a subscriber sees each event
        // once: in the history it was given, or on its channel. No
        // subscriber is not an error.
        let _ = self.published.send(event.clone());
        if events.len() == EVENT_HISTORY {
            events.pop_front();
        }
        events.push_back(event);
    }

    /// The reload events so far (oldest first) and every later one as it
    /// happens, each exactly once (`medic serve` audits them).
    pub fn subscribe(
        &self,
    ) -> (
        Vec<ReloadEvent>,
        tokio::sync::broadcast::Receiver<ReloadEvent>,
    ) {
        let events = self.events.lock();
        (events.iter().cloned().collect(), self.published.subscribe())
    }

    /// The latest reload events, oldest first.
    pub fn events(&self) -> Vec<ReloadEvent> {
        self.events.lock().iter().cloned().collect()
    }

    /// Every plugin with its status.
    pub fn list(&self) -> Vec<PluginStatus> {
        let active = self.active();
        let catalog = self.catalog.lock();
        let mut rows = Vec::new();
        let serving = |p: &Arc<Plugin>| {
            Arc::ptr_eq(p, &active.scorer)
                || Arc::ptr_eq(p, &active.strategy)
                || Arc::ptr_eq(p, &active.learner)
        };
        for entry in catalog.by_name.values() {
            rows.push(status_row(
                &entry.plugin,
                if entry.plugin.is_quarantined() {
                    "quarantined"
                } else if serving(&entry.plugin) {
                    "active"
                } else {
                    "loaded"
                },
            ));
            if let Some(b) = entry
                .builtin
                .as_ref()
                .filter(|b| !Arc::ptr_eq(b, &entry.plugin))
            {
                rows.push(status_row(b, "overridden"));
            }
        }
        rows
    }

    /// Scores a kill with the active scorer (or the safe default when it is
    /// quarantined).
    pub fn score(&self, req: &ScoreRequest<'_>) -> Served<RiskAssessment> {
        let set = self.active();
        let (plugin, fallback) = self.or_safe(&set.scorer, SAFE_SCORER);
        served(&plugin, fallback, |p| p.score(req))
    }

    /// Scores a kill and decides it with the active plugins (or their safe
    /// defaults), converting the input once for both. The strategy runs
    /// only when scoring succeeded.
    pub fn judge(
        &self,
        kill: &mut Prepared<'_>,
    ) -> (Served<RiskAssessment>, Option<Served<Verdict>>) {
        let set = self.active();
        let (scorer, scorer_fallback) = self.or_safe(&set.scorer, SAFE_SCORER);
        let (strategy, strategy_fallback) = self.or_safe(&set.strategy, SAFE_STRATEGY);
        let resolved = self.resolved_for([&scorer, &strategy], kill.thresholds());
        let (risk, verdict) = super::loaded::score_then_decide(
            &scorer,
            &strategy,
            kill,
            [resolved[0].as_deref(), resolved[1].as_deref()],
        );
        (
            served(&scorer, scorer_fallback, |_| risk),
            verdict.map(|v| served(&strategy, strategy_fallback, |_| v)),
        )
    }

    /// Decides a scored kill with the active strategy (or `conservative`
    /// when it is quarantined).
    pub fn decide(&self, req: &DecideRequest<'_>) -> Served<Verdict> {
        let set = self.active();
        let (plugin, fallback) = self.or_safe(&set.strategy, SAFE_STRATEGY);
        served(&plugin, fallback, |p| p.decide(req))
    }

    /// Asks the active learner for adjustments; a quarantined learner's
    /// safe default is to propose nothing.
    pub fn learn(&self, req: &LearnRequest<'_>) -> Served<Vec<ThresholdAdjustment>> {
        let set = self.active();
        let p = &set.learner;
        if p.is_quarantined() {
            return Served {
                value: Ok(Vec::new()),
                plugin: p.name().to_string(),
                version: p.info().version.clone(),
                sha256: p.sha256().to_string(),
                fallback: Some(format!(
                    "learner {} is quarantined: no adjustments proposed",
                    p.name()
                )),
            };
        }
        served(p, None, |p| p.learn(req))
    }

    /// The `plugins`' named numbers resolved against `thresholds`, when
    /// they are the thresholds in force (the same `Arc`, which nobody edits
    /// in place; other thresholds get none, and the calls look their
    /// numbers up by name). One look at the thresholds and one lock for
    /// all of a kill's plugins.
    fn resolved_for<const N: usize>(
        &self,
        plugins: [&Plugin; N],
        thresholds: &NamedValues,
    ) -> [Option<Arc<Resolved>>; N] {
        let current = self.thresholds.load();
        if !std::ptr::eq(Arc::as_ptr(&current), thresholds) {
            return plugins.map(|_| None);
        }
        let mut kept = self.resolved.lock();
        if !kept.as_ref().is_some_and(|(t, _)| Arc::ptr_eq(t, &current)) {
            *kept = None;
        }
        let (_, list) = kept.get_or_insert_with(|| (Arc::clone(&current), Vec::new()));
        plugins.map(|plugin| {
            if let Some(r) = list.iter().find(|r| r.belongs_to(plugin)) {
                return Some(r.clone());
            }
            if list.len() >= RESOLVED_KEPT {
                list.remove(0);
            }
            let r = Arc::new(plugin.resolve(thresholds));
            list.push(r.clone());
            Some(r)
        })
    }

    fn or_safe(&self, plugin: &Arc<Plugin>, safe: &str) -> (Arc<Plugin>, Option<String>) {
        if !plugin.is_quarantined() {
            return (plugin.clone(), None);
        }
        let catalog = self.catalog.lock();
        let fallback = catalog
            .by_name
            .get(safe)
            .and_then(|e| e.builtin.clone())
            .filter(|b| !b.is_quarantined());
        match fallback {
            Some(b) => (
                b,
                Some(format!(
                    "{} {} is quarantined; {safe} served instead",
                    plugin.kind(),
                    plugin.name()
                )),
            ),
            None => (plugin.clone(), None),
        }
    }

    /// A plugin by name (for tests and the CLI).
    pub fn get(&self, name: &str) -> Option<Arc<Plugin>> {
        self.catalog
            .lock()
            .by_name
            .get(name)
            .map(|e| e.plugin.clone())
    }

    /// Every loaded plugin (the one of each name that would serve), and
    /// the built-ins a file of the same name overrides.
    pub fn plugins(&self) -> Vec<Arc<Plugin>> {
        let catalog = self.catalog.lock();
        let mut out = Vec::new();
        for e in catalog.by_name.values() {
            out.push(e.plugin.clone());
            if let Some(b) = &e.builtin
                && !Arc::ptr_eq(b, &e.plugin)
            {
                out.push(b.clone());
            }
        }
        out
    }
}

fn served<T>(
    plugin: &Arc<Plugin>,
    fallback: Option<String>,
    call: impl FnOnce(&Plugin) -> Result<T, PluginError>,
) -> Served<T> {
    Served {
        value: call(plugin),
        plugin: plugin.name().to_string(),
        version: plugin.info().version.clone(),
        sha256: plugin.sha256().to_string(),
        fallback,
    }
}

fn status_row(p: &Plugin, status: &str) -> PluginStatus {
    PluginStatus {
        name: p.name().to_string(),
        kind: p.kind(),
        version: p.info().version.clone(),
        sha256: p.sha256().to_string(),
        source: p.source().clone(),
        loaded_at: p.loaded_at(),
        status: status.to_string(),
        description: p.info().description.clone(),
        health: p.health(),
        signer: p.signer().clone(),
    }
}

/// The event of a file refused for `e` (with the replay gate's findings
/// when the gate refused it).
fn rejected(path: &Path, e: &RegistryError) -> ReloadEvent {
    ReloadEvent {
        at: Utc::now(),
        path: path.to_path_buf(),
        outcome: "rejected".into(),
        plugin: None,
        message: e.to_string(),
        gate: match e {
            RegistryError::Gate(g) => Some(g.report.clone()),
            _ => None,
        },
    }
}

/// `catalog` with `plugin` provided by the file at `path` (replacing what
/// the file provided before, and the plugin of the same name), and whether
/// it replaces one.
fn with_file(catalog: &Catalog, path: &Path, plugin: &Arc<Plugin>) -> (Catalog, bool) {
    let mut next = catalog.clone();
    let name = plugin.name().to_string();
    // The file may have provided another name before (a rename).
    if let Some(old_name) = next.files.get(path).cloned().filter(|n| *n != name) {
        drop_name(&mut next, &old_name);
    }
    let builtin = next.by_name.get(&name).and_then(|e| e.builtin.clone());
    let replaced = next
        .by_name
        .insert(
            name.clone(),
            Entry {
                plugin: plugin.clone(),
                builtin,
            },
        )
        .is_some();
    next.files.insert(path.to_path_buf(), name);
    (next, replaced)
}

/// Removes a name from the catalog, restoring its built-in if it had one.
fn drop_name(catalog: &mut Catalog, name: &str) {
    if let Some(entry) = catalog.by_name.remove(name)
        && let Some(b) = entry.builtin
    {
        catalog.by_name.insert(
            name.to_string(),
            Entry {
                plugin: b.clone(),
                builtin: Some(b),
            },
        );
    }
}

/// The name of the plugin of `kind` in a set.
fn set_name(set: &ActiveSet, kind: PluginKind) -> &str {
    match kind {
        PluginKind::RiskScorer => set.scorer.name(),
        PluginKind::Strategy => set.strategy.name(),
        PluginKind::ThresholdLearner => set.learner.name(),
    }
}

fn bindings_for(bindings: &BTreeMap<String, PhasePlugins>, phase: Phase) -> Option<&PhasePlugins> {
    bindings
        .get(phase.name())
        .or_else(|| bindings.get(crate::config::DEFAULT_BINDING))
}

fn pick(
    catalog: &Catalog,
    phase: Phase,
    kind: PluginKind,
    b: &PluginBinding,
) -> Result<Arc<Plugin>, RegistryError> {
    let err = |problem: String| RegistryError::Binding {
        phase: phase.name().to_string(),
        kind,
        name: b.name.clone(),
        problem,
    };
    let entry = catalog
        .by_name
        .get(&b.name)
        .ok_or_else(|| err("no such plugin is built in or in the plugin directory".into()))?;
    let plugin = &entry.plugin;
    if plugin.kind() != kind {
        return Err(err(format!("it is a {}", plugin.kind())));
    }
    if let Some(pin) = &b.sha256
        && plugin.sha256() != pin
    {
        return Err(err(format!(
            "it is pinned to sha256 {pin} and the loaded one is {}",
            plugin.sha256()
        )));
    }
    Ok(plugin.clone())
}

fn default_binding(kind: PluginKind) -> PluginBinding {
    let name = match kind {
        PluginKind::RiskScorer => SAFE_SCORER,
        PluginKind::Strategy => SAFE_STRATEGY,
        PluginKind::ThresholdLearner => "bounded",
    };
    PluginBinding {
        name: name.into(),
        sha256: None,
    }
}

fn resolve(
    catalog: &Catalog,
    bindings: &BTreeMap<String, PhasePlugins>,
    phase: Phase,
) -> Result<ActiveSet, RegistryError> {
    let b = bindings_for(bindings, phase);
    let get = |kind: PluginKind, bound: Option<&PluginBinding>| {
        let fallback = default_binding(kind);
        pick(catalog, phase, kind, bound.unwrap_or(&fallback))
    };
    Ok(ActiveSet {
        phase,
        scorer: get(PluginKind::RiskScorer, b.map(|b| &b.risk_scorer))?,
        strategy: get(PluginKind::Strategy, b.map(|b| &b.strategy))?,
        learner: get(
            PluginKind::ThresholdLearner,
            b.map(|b| &b.threshold_learner),
        )?,
        shadow: match b.and_then(|b| b.shadow.as_ref()) {
            Some(sh) => Some((
                pick(catalog, phase, PluginKind::RiskScorer, &sh.risk_scorer)?,
                pick(catalog, phase, PluginKind::Strategy, &sh.strategy)?,
            )),
            None => None,
        },
    })
}

/// Like [`resolve`], but an unsatisfiable binding gets the built-in safe
/// default for its kind instead of an error (and, should even that be
/// missing, the plugin that served before).
fn resolve_lenient(
    catalog: &Catalog,
    bindings: &BTreeMap<String, PhasePlugins>,
    phase: Phase,
    previous: &ActiveSet,
) -> ActiveSet {
    let b = bindings_for(bindings, phase);
    let get = |kind: PluginKind, bound: Option<&PluginBinding>, before: &Arc<Plugin>| {
        let safe = default_binding(kind);
        bound
            .and_then(|bound| pick(catalog, phase, kind, bound).ok())
            .or_else(|| {
                catalog
                    .by_name
                    .get(&safe.name)
                    .and_then(|e| e.builtin.clone())
            })
            .unwrap_or_else(|| before.clone())
    };
    ActiveSet {
        phase,
        scorer: get(
            PluginKind::RiskScorer,
            b.map(|b| &b.risk_scorer),
            &previous.scorer,
        ),
        strategy: get(
            PluginKind::Strategy,
            b.map(|b| &b.strategy),
            &previous.strategy,
        ),
        learner: get(
            PluginKind::ThresholdLearner,
            b.map(|b| &b.threshold_learner),
            &previous.learner,
        ),
        // A shadow that cannot be met is dropped: it never acts.
        shadow: b.and_then(|b| b.shadow.as_ref()).and_then(|sh| {
            Some((
                pick(catalog, phase, PluginKind::RiskScorer, &sh.risk_scorer).ok()?,
                pick(catalog, phase, PluginKind::Strategy, &sh.strategy).ok()?,
            ))
        }),
    }
}

/// The `.wasm` files of a directory, sorted.
pub fn wasm_files(dir: &Path) -> Result<Vec<PathBuf>, RegistryError> {
    let entries = std::fs::read_dir(dir).map_err(|source| RegistryError::Directory {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "wasm") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}
