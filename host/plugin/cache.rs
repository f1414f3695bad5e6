//! Compiling components, with an on-disk cache of compiled artifacts
//! (`.cwasm`) keyed by the component's sha256 and the engine's configuration,
//! so a restart or a hot swap of a known plugin skips compilation.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::error::LoadError;

/// The sha256 of a plugin's bytes, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A fingerprint of everything that makes a compiled artifact usable: the
/// engine's settings and wasmtime's version.
fn engine_key(engine: &Engine) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    "wasmtime-48.0.8".hash(&mut h);
    format!("{:016x}", h.finish())
}

fn cache_path(dir: &Path, engine: &Engine, sha: &str) -> PathBuf {
    dir.join(format!("{sha}-{}.cwasm", engine_key(engine)))
}

/// Compiles `bytes`, or loads them from the cache when they were compiled
/// before. A cache that cannot be read or written only costs time.
pub fn compile(
    engine: &Engine,
    bytes: &[u8],
    sha: &str,
    cache_dir: Option<&Path>,
    origin: &str,
) -> Result<(Component, bool), LoadError> {
    if let Some(dir) = cache_dir {
        let path = cache_path(dir, engine, sha);
        // Read into memory rather than mapped: a cache file changed or cut
        // short while a plugin from it is loaded must not crash the host.
        if let Ok(artifact) = std::fs::read(&path) {
            // SAFETY: the bytes come from Medic's own cache directory, written
            // by this engine under this exact key; wasmtime also refuses
            // artifacts from an incompatible engine or wasmtime version.
            match unsafe { Component::deserialize(engine, &artifact) } {
                Ok(c) => return Ok((c, true)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "Ignoring unusable cached plugin")
                }
            }
        }
    }
    let component = Component::new(engine, bytes).map_err(|e| LoadError::Compile {
        origin: origin.to_string(),
        message: format!("{e:#}"),
    })?;
    if let Some(dir) = cache_dir
        && let Err(e) = store(dir, &cache_path(dir, engine, sha), &component)
    {
        tracing::warn!(dir = %dir.display(), error = %e, "Could not cache compiled plugin");
    }
    Ok((component, false))
}

fn store(dir: &Path, path: &Path, component: &Component) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let bytes = component
        .serialize()
        .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
    // Write then rename, so a reader never sees half a file.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
