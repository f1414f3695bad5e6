//! Compiling components, with an on-disk cache of compiled artifacts
//! (`.cwasm`) keyed by the component's sha256 and the engine's configuration,
//! so a restart or a hot swap of a known plugin skips compilation.
//!
//! A compiled artifact is native code that runs outside the sandbox's
//! checks, so a cache directory is only used when nobody but its owner (this
//! user, or root) can write to it; otherwise plugins are compiled every time
//! and a warning says why.

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

/// The cache the command-line tools (`medic plugin check|run|bench|list`,
/// `medic replay`) use when `plugins.cache_dir` names none: `MEDIC_CACHE_DIR`
/// (set but empty: no cache), else `$XDG_CACHE_HOME/medic/plugins`, else
/// `$HOME/.cache/medic/plugins`. `medic serve` caches only where the
/// configuration says.
pub fn user_cache_dir(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(dir) = env("MEDIC_CACHE_DIR") {
        return (!dir.is_empty()).then(|| PathBuf::from(dir));
    }
    let absolute = |v: Option<String>| v.filter(|d| d.starts_with('/')).map(PathBuf::from);
    absolute(env("XDG_CACHE_HOME"))
        .or_else(|| absolute(env("HOME")).map(|h| h.join(".cache")))
        .map(|base| base.join("medic").join("plugins"))
}

/// Why `dir` may not hold compiled plugins, if it may not: artifacts there
/// are loaded as native code, so only its owner may write to it. A missing
/// directory is created, readable and writable by this user alone.
fn unsafe_to_use(dir: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        if !dir.exists()
            && let Err(e) = std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
        {
            return Some(format!("cannot create it: {e}"));
        }
        let meta = match std::fs::metadata(dir) {
            Ok(m) => m,
            Err(e) => return Some(format!("cannot read it: {e}")),
        };
        if !meta.is_dir() {
            return Some("it is not a directory".to_string());
        }
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me && meta.uid() != 0 {
            return Some(format!(
                "it belongs to user {}, not to this user ({me}) or root",
                meta.uid()
            ));
        }
        if meta.mode() & 0o022 != 0 {
            return Some(format!(
                "others can write to it (mode {:o}): `chmod go-w {}`",
                meta.mode() & 0o777,
                dir.display()
            ));
        }
        None
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
            .err()
            .map(|e| format!("cannot create it: {e}"))
    }
}

/// Says once per directory (not once per plugin) why it is not used.
fn warn_once(dir: &Path, why: &str) {
    static WARNED: parking_lot::Mutex<Vec<PathBuf>> = parking_lot::Mutex::new(Vec::new());
    let mut warned = WARNED.lock();
    if !warned.iter().any(|d| d == dir) {
        warned.push(dir.to_path_buf());
        tracing::warn!(dir = %dir.display(), "Not caching compiled plugins in {}: {why}", dir.display());
    }
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
    let cache_dir = cache_dir.filter(|dir| match unsafe_to_use(dir) {
        None => true,
        Some(why) => {
            warn_once(dir, &why);
            false
        }
    });
    if let Some(dir) = cache_dir {
        let path = cache_path(dir, engine, sha);
        // Read into memory rather than mapped: a cache file changed or cut
        // short while a plugin from it is loaded must not crash the host.
        if let Ok(artifact) = std::fs::read(&path) {
            // SAFETY: the bytes come from Medic's own cache directory, written
            // by this engine under this exact key; wasmtime also refuses
            // artifacts from an incompatible engine or wasmtime version.
            match unsafe { Component::deserialize(engine, &artifact) } {
                Ok(c) => return Ok((with_memory_image(c, origin)?, true)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "Ignoring unusable cached plugin")
                }
            }
        }
    }
    not_a_component(bytes).map_or(Ok(()), |message| {
        Err(LoadError::Compile {
            origin: origin.to_string(),
            message: message.to_string(),
        })
    })?;
    let component = Component::new(engine, bytes).map_err(|e| LoadError::Compile {
        origin: origin.to_string(),
        message: format!("{e:#}"),
    })?;
    if let Some(dir) = cache_dir
        && let Err(e) = store(dir, &cache_path(dir, engine, sha), &component)
    {
        tracing::warn!(dir = %dir.display(), error = %e, "Could not cache compiled plugin");
    }
    Ok((with_memory_image(component, origin)?, false))
}

/// What is wrong with a file that is no WebAssembly component at all, said
/// plainly (the compiler's own message lists the bytes it expected).
fn not_a_component(bytes: &[u8]) -> Option<&'static str> {
    if !bytes.starts_with(b"\0asm") {
        return Some(
            "not a WebAssembly file: it does not begin with the bytes \\0asm (is it the right file, or still source code?)",
        );
    }
    // A component's layer is 1; a core module's version word is 1, 0.
    if bytes.get(4..8) == Some(&[1, 0, 0, 0]) {
        return Some(
            "a core WebAssembly module, not a component: build it for wasm32-wasip2, or wrap it with `wasm-tools component new`",
        );
    }
    None
}

/// Attempts at building a component's memory image before its load fails.
const IMAGE_ATTEMPTS: u32 = 3;

/// Builds the copy-on-write image every instance's memory starts from (on
/// Linux, a sealed memfd) now, at load, rather than lazily at the first
/// instantiation. Sealing the memfd has failed once in this project's test
/// suite ("cannot add seals to the memfd", while other tests were spawning
/// processes) and passed when run again: lazily, that failed a plugin call;
/// here it is retried, and if it persists the load fails with the reason.
fn with_memory_image(component: Component, origin: &str) -> Result<Component, LoadError> {
    let mut attempt = 1;
    loop {
        match component.initialize_copy_on_write_image() {
            Ok(()) => return Ok(component),
            Err(e) if attempt < IMAGE_ATTEMPTS => {
                tracing::warn!(origin, attempt, error = %format!("{e:#}"), "Building the plugin's memory image failed; retrying");
                std::thread::sleep(std::time::Duration::from_millis(10 * u64::from(attempt)));
                attempt += 1;
            }
            Err(e) => {
                return Err(LoadError::MemoryImage {
                    origin: origin.to_string(),
                    message: format!("{e:#}"),
                });
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::not_a_component;

    #[test]
    fn files_that_are_no_component_are_named_for_what_they_are() {
        assert!(not_a_component(b"not wasm").unwrap().contains("\\0asm"));
        assert!(
            not_a_component(b"\0asm\x01\0\0\0")
                .unwrap()
                .contains("core WebAssembly module")
        );
        assert_eq!(not_a_component(b"\0asm\x0d\0\x01\0"), None);
    }
}
