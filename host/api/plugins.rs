//! Plugins over HTTP: the catalogue and the bindings (viewers); for admins,
//! a reload of the plugin directory, an upload — validated exactly like a
//! file dropped into the directory (compiled, world and imports checked,
//! run on the golden kills) before it is written there and swapped in —
//! and binding a loaded plugin to a phase at run time. Every change is
//! audited with the key's name; a run-time binding is also stored, so it
//! holds after a restart.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::envelope::{Envelope, ErrorEnvelope};
use super::params::{invalid, query, required_body};
use super::role::{Admin, Viewer};
use super::{ApiError, AppState};
use crate::config::raw::{PhasePlugins, PluginBinding};
use crate::model::PluginKind;
use crate::plugin::gate::Override;
use crate::plugin::signature::{bundle_path, sig_path};
use crate::plugin::{Plugin, PluginSource, PluginStatus, RegistryError, ReloadEvent, golden};
use crate::store::AuditKind;

/// The largest plugin accepted (an interpreter-based one is tens of MB).
pub const MAX_PLUGIN_BYTES: usize = 64 * 1024 * 1024;

/// The plugin serving for each kind, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActiveNames {
    pub risk_scorer: String,
    pub strategy: String,
    pub threshold_learner: String,
}

impl ActiveNames {
    fn of(state: &AppState) -> (String, ActiveNames) {
        let a = state.engine.decider.registry.active();
        (
            a.phase.to_string(),
            ActiveNames {
                risk_scorer: a.scorer.name().into(),
                strategy: a.strategy.name().into(),
                threshold_learner: a.learner.name().into(),
            },
        )
    }
}

/// The catalogue: what serves, everything loaded, and recent reloads.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginsView {
    /// The constitution's active phase.
    pub phase: String,
    pub active: ActiveNames,
    /// Plugin bindings by phase (`default`: phases without their own).
    pub bindings: BTreeMap<String, PhasePlugins>,
    pub plugins: Vec<PluginStatus>,
    pub recent_events: Vec<ReloadEvent>,
}

#[utoipa::path(get, path = "/api/v1/plugins", tag = "plugins",
    responses((status = 200, description = "Plugins loaded, serving and bound", body = Envelope<PluginsView>)))]
pub async fn list(
    State(state): State<AppState>,
    _: Viewer,
) -> Result<Json<Envelope<PluginsView>>, ApiError> {
    let r = &state.engine.decider.registry;
    let (phase, active) = ActiveNames::of(&state);
    Ok(Json(Envelope::new(PluginsView {
        phase,
        active,
        bindings: r.bindings(),
        plugins: r.list(),
        recent_events: r.events(),
    })))
}

#[utoipa::path(post, path = "/api/v1/plugins/reload", tag = "plugins",
    responses((status = 200, description = "What happened to each file", body = Envelope<Vec<ReloadEvent>>),
              (status = 409, description = "The directory could not be read", body = ErrorEnvelope)))]
pub async fn reload(
    State(state): State<AppState>,
    Admin(caller): Admin,
) -> Result<Json<Envelope<Vec<ReloadEvent>>>, ApiError> {
    let registry = state.engine.decider.registry.clone();
    let events = tokio::task::spawn_blocking(move || registry.reload_directory())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Conflict(e.to_string()))?;
    state.engine.decider.store.audit(
        AuditKind::PluginChanged,
        None,
        None,
        &caller.name,
        json!({"action": "reload", "events": events}),
    )?;
    state.engine.decider.store.flush().await?;
    Ok(Json(Envelope::new(events)))
}

/// Where an upload goes.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file name to install as, without `.wasm` (1-128 of A-Z a-z 0-9 . _ -).
    #[param(min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9._-]+$")]
    name: String,
    /// Also bind it (pinned to its sha256) for this phase, or `default`.
    phase: Option<String>,
    /// Its signature: ECDSA P-256 over the file, base64 of the DER
    /// encoding (what `cosign sign-blob` and `medic plugin sign` print).
    /// Needed when `plugins.trust.require_signature` is on; checked
    /// against `plugins.trust.keys` whenever given.
    #[param(max_length = 512)]
    signature: Option<String>,
    /// Let it through the replay gate even if the gate refuses it: why
    /// (audited with the gate's findings).
    #[param(max_length = 4096, pattern = "\\S")]
    override_reason: Option<String>,
}

/// What an upload did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Uploaded {
    pub event: ReloadEvent,
    /// The binding made, when a phase was given.
    pub bound: Option<Bound>,
}

/// A binding made at run time, and what serves now.
#[derive(Debug, Serialize, ToSchema)]
pub struct Bound {
    pub phase: String,
    pub kind: PluginKind,
    pub binding: PluginBinding,
    /// The active phase's plugins after the binding.
    pub active: ActiveNames,
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::Binding { .. } => invalid("plugin", e.to_string()),
            other => ApiError::Conflict(other.to_string()),
        }
    }
}

/// Binds, stores and audits a run-time binding.
async fn bind(
    state: &AppState,
    actor: &str,
    phase: &str,
    kind: PluginKind,
    binding: PluginBinding,
    over: Option<&Override>,
) -> Result<Bound, ApiError> {
    let registry = state.engine.decider.registry.clone();
    let (phase_key, b) = (phase.to_string(), binding.clone());
    let over_owned = over.cloned();
    // The replay gate runs plugins on history: off the async workers.
    let (_, gate) = tokio::task::spawn_blocking(move || {
        registry.bind_overriding(&phase_key, kind, b, over_owned.as_ref())
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    let store = &state.engine.decider.store;
    store.put_plugin_binding(phase, kind, &binding)?;
    store.audit(
        AuditKind::PluginChanged,
        None,
        None,
        actor,
        json!({"action": "bind", "phase": phase, "kind": kind, "binding": binding,
               "gate": gate, "gate_override": over.map(|o| &o.reason)}),
    )?;
    store.flush().await?;
    Ok(Bound {
        phase: phase.to_string(),
        kind,
        binding,
        active: ActiveNames::of(state).1,
    })
}

#[utoipa::path(post, path = "/api/v1/plugins", tag = "plugins",
    params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The plugin's .wasm component"),
    responses((status = 200, description = "Checked, installed and swapped in (and bound, with `phase`)", body = Envelope<Uploaded>),
              (status = 409, description = "plugins.directory is not set, or the replay gate refuses the plugin (an admin may override with a reason)", body = ErrorEnvelope),
              (status = 413, description = "Over 64 MiB", body = ErrorEnvelope),
              (status = 422, description = "A bad name, or a plugin that fails a check (the problem named)", body = ErrorEnvelope)))]
pub async fn upload(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    Admin(caller): Admin,
    body: axum::body::Bytes,
) -> Result<Json<Envelope<Uploaded>>, ApiError> {
    let q: UploadQuery = query(raw.as_deref())?;
    let name = q.name;
    if !crate::config::validate_name(&name) {
        return Err(invalid(
            "name",
            format!("{name:?}: the file name to install as (1-128 of A-Z a-z 0-9 . _ -)"),
        ));
    }
    if body.is_empty() {
        return Err(invalid(
            "body",
            "send the plugin's .wasm as the request body".into(),
        ));
    }
    let registry = state.engine.decider.registry.clone();
    let Some(dir) = registry.directory().map(|d| d.to_path_buf()) else {
        return Err(ApiError::Conflict(
            "plugins.directory is not set: there is nowhere to install a plugin".into(),
        ));
    };
    let target = dir.join(format!("{name}.wasm"));
    let config = state.engine.decider.config.clone();
    let file = name.clone();
    let signature = q.signature;
    let over = overriding(&caller.name, q.override_reason)?;
    let over_blocking = over.clone();
    let checked = tokio::task::spawn_blocking(move || -> Result<_, (&'static str, String)> {
        // The same checks a dropped file gets, before anything is written:
        // who signed it first, then the plugin itself.
        let signer = registry
            .trust()
            .check_bare(&target, &body, signature.as_deref())
            .map_err(|e| ("signature", e.to_string()))?;
        let plugin = Plugin::load(
            registry.sandbox(),
            registry.settings(),
            &body,
            PluginSource::File(target.clone()),
            None,
        )
        .map_err(|e| match e.hint() {
            Some(h) => in_body(format!("{e} (hint: {h})")),
            None => in_body(e.to_string()),
        })?;
        golden::check(
            &plugin,
            &registry.thresholds(),
            &crate::plugin::learner_settings_from_config(&config),
        )
        .map_err(|e| in_body(e.to_string()))?;
        // The replay gate, before anything is written.
        let plugin = std::sync::Arc::new(plugin);
        registry
            .check_candidate(&target, &plugin, over_blocking.as_ref())
            .map_err(|e| ("plugin", e.to_string()))?;
        // Its signature goes in first (a signature of an earlier version
        // goes), so the file is checked against its own when it lands.
        for old in [bundle_path(&target), sig_path(&target)] {
            match std::fs::remove_file(&old) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(in_body(format!("removing {}: {e}", old.display()))),
            }
        }
        if let Some(sig) = &signature {
            install(
                &dir,
                &format!("{file}.sig"),
                sig.trim().as_bytes(),
                &sig_path(&target),
            )?;
        }
        install(&dir, &file, &body, &target)?;
        let event = registry
            .load_file_overriding(&target, over_blocking.as_ref())
            .map_err(|e| in_body(e.to_string()))?;
        let binding = PluginBinding {
            name: plugin.name().to_string(),
            sha256: Some(plugin.sha256().to_string()),
        };
        Ok((event, plugin.kind(), binding, signer))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let (event, kind, binding, signer) =
        checked.map_err(|(field, problem)| invalid(field, problem))?;
    state.engine.decider.store.audit(
        AuditKind::PluginChanged,
        None,
        None,
        &caller.name,
        json!({"action": "upload", "file": format!("{name}.wasm"), "signer": signer, "event": event,
               "gate_override": over.as_ref().map(|o| &o.reason)}),
    )?;
    let bound = match q.phase {
        Some(phase) => {
            Some(bind(&state, &caller.name, &phase, kind, binding, over.as_ref()).await?)
        }
        None => None,
    };
    state.engine.decider.store.flush().await?;
    Ok(Json(Envelope::new(Uploaded { event, bound })))
}

/// An admin's override of the replay gate, from its reason (which must say
/// something).
pub(crate) fn overriding(
    actor: &str,
    reason: Option<String>,
) -> Result<Option<Override>, ApiError> {
    match reason {
        None => Ok(None),
        Some(r) if r.trim().is_empty() => Err(invalid(
            "override_reason",
            "an override of the replay gate needs a reason".into(),
        )),
        Some(reason) => Ok(Some(Override {
            actor: actor.to_string(),
            reason,
        })),
    }
}

/// A problem with an upload's body, for a 422 naming it.
fn in_body(problem: String) -> (&'static str, String) {
    ("body", problem)
}

/// Writes `bytes` beside `target` in `dir`, then renames them in: the
/// watcher never sees half a file.
fn install(
    dir: &std::path::Path,
    stem: &str,
    bytes: &[u8],
    target: &std::path::Path,
) -> Result<(), (&'static str, String)> {
    let partial = dir.join(format!(".{stem}.upload"));
    std::fs::write(&partial, bytes)
        .map_err(|e| in_body(format!("writing {}: {e}", partial.display())))?;
    std::fs::rename(&partial, target)
        .map_err(|e| in_body(format!("installing {}: {e}", target.display())))
}

/// A plugin to bind for a phase.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindBody {
    pub kind: PluginKind,
    /// A loaded plugin's name (built in or from the directory).
    #[schema(min_length = 1, max_length = 128)]
    pub name: String,
    /// Pin to this sha256 of its `.wasm` (default: no pin).
    #[serde(default)]
    pub sha256: Option<String>,
    /// Let it through the replay gate even if the gate refuses it: why
    /// (audited with the gate's findings).
    #[serde(default)]
    #[schema(max_length = 4096, pattern = "\\S")]
    pub override_reason: Option<String>,
}

#[utoipa::path(put, path = "/api/v1/plugins/bindings/{phase}", tag = "plugins",
    params(("phase" = String, Path, description = "A phase's name (`phase_3_semi_auto`) or `default`",
        pattern = "^(default|phase_0_foundation|phase_1_observer|phase_2_manual|phase_3_semi_auto|phase_4_learning|phase_5_full_auto)$")),
    request_body(content = BindBody, description = "The kind and the plugin"),
    responses((status = 200, description = "Bound, stored and audited; serving at once when the phase is active", body = Envelope<Bound>),
              (status = 409, description = "The replay gate refuses it (it would revive a known threat, or disagrees too often); an admin may override with a reason", body = ErrorEnvelope),
              (status = 422, description = "No such phase or plugin, the wrong kind, or a pin that does not match", body = ErrorEnvelope)))]
pub async fn bind_phase(
    State(state): State<AppState>,
    Path(phase): Path<String>,
    Admin(caller): Admin,
    bytes: axum::body::Bytes,
) -> Result<Json<Envelope<Bound>>, ApiError> {
    let b: BindBody = required_body(&bytes)?;
    let binding = PluginBinding {
        name: b.name,
        sha256: b.sha256,
    };
    let over = overriding(&caller.name, b.override_reason)?;
    Ok(Json(Envelope::new(
        bind(&state, &caller.name, &phase, b.kind, binding, over.as_ref()).await?,
    )))
}
