//! Plugin bindings made at run time (through the API), kept so they hold
//! after a restart: one entry per phase key and kind, applied over the
//! constitution's bindings when Medic starts.

use super::{Result, SledStore};
use crate::config::raw::PluginBinding;
use crate::model::PluginKind;

fn key(phase: &str, kind: PluginKind) -> String {
    format!("{phase}\u{0}{kind}")
}

impl SledStore {
    /// Records that `binding` is the plugin of `kind` for `phase`.
    pub fn put_plugin_binding(
        &self,
        phase: &str,
        kind: PluginKind,
        binding: &PluginBinding,
    ) -> Result<()> {
        let row = (phase, kind, binding);
        self.plugin_bindings
            .insert(key(phase, kind), serde_json::to_vec(&row)?)?;
        Ok(())
    }

    /// Every run-time binding, in phase and kind order.
    pub fn plugin_bindings(&self) -> Result<Vec<(String, PluginKind, PluginBinding)>> {
        self.plugin_bindings
            .iter()
            .map(|item| Ok(serde_json::from_slice(&item?.1)?))
            .collect()
    }
}
