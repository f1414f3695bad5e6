//! Watching the plugin directory: a `.wasm` file written (closed after
//! writing, or renamed into place) is loaded and swapped in if it passes
//! every check; a file removed or renamed away is dropped. Install plugins by
//! writing elsewhere and renaming into the directory, so no half-written file
//! is ever read; a half-written file is only rejected, never served.
//! A signature file (`x.wasm.sigstore.json`, `x.wasm.sig`) written or
//! removed reloads its plugin, so a signature that arrives after its file
//! lets the file load (a plugin already serving keeps serving if its
//! signature goes; the bytes it was verified with have not changed).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RenameMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use super::registry::Registry;

#[derive(Debug, thiserror::Error)]
#[error("cannot watch the plugin directory {path}: {source}")]
pub struct WatchError {
    path: PathBuf,
    #[source]
    source: notify::Error,
}

/// Watches while it lives.
pub struct DirectoryWatch {
    _watcher: RecommendedWatcher,
}

enum Change {
    Written,
    Gone,
}

fn classify(kind: &EventKind) -> Option<Change> {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write))
        | EventKind::Create(CreateKind::File)
        | EventKind::Modify(ModifyKind::Name(RenameMode::To)) => Some(Change::Written),
        EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(RenameMode::From)) => {
            Some(Change::Gone)
        }
        EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => Some(Change::Written),
        _ => None,
    }
}

fn is_wasm(path: &Path) -> bool {
    path.extension().is_some_and(|x| x == "wasm")
}

/// Starts watching `registry`'s plugin directory.
pub fn watch(registry: &Arc<Registry>) -> Result<Option<DirectoryWatch>, WatchError> {
    let Some(dir) = registry.directory().map(Path::to_path_buf) else {
        return Ok(None);
    };
    let target = Arc::downgrade(registry);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<Event>| {
        let Some(registry) = target.upgrade() else {
            return;
        };
        let event = match event {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "Plugin directory watch error");
                return;
            }
        };
        let Some(change) = classify(&event.kind) else {
            return;
        };
        // A rename within the directory names both paths: the last is new.
        let paths: Vec<&PathBuf> = match (&event.kind, &change) {
            (EventKind::Modify(ModifyKind::Name(RenameMode::Both)), _)
                if event.paths.len() == 2 =>
            {
                registry_remove(&registry, &event.paths[0]);
                vec![&event.paths[1]]
            }
            _ => event.paths.iter().collect(),
        };
        for path in paths {
            if let Some(file) = super::signature::signed_file(path) {
                if file.is_file() {
                    // Errors are logged and recorded by the registry.
                    let _ = registry.load_file(&file);
                }
                continue;
            }
            if !is_wasm(path) {
                continue;
            }
            match change {
                Change::Written if path.is_file() => {
                    // Errors are logged and recorded by the registry.
                    let _ = registry.load_file(path);
                }
                Change::Written => {}
                Change::Gone => registry_remove(&registry, path),
            }
        }
    })
    .map_err(|source| WatchError {
        path: dir.clone(),
        source,
    })?;
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|source| WatchError {
            path: dir.clone(),
            source,
        })?;
    tracing::info!(directory = %dir.display(), "Watching plugin directory");
    Ok(Some(DirectoryWatch { _watcher: watcher }))
}

fn registry_remove(registry: &Registry, path: &Path) {
    if is_wasm(path) && !path.exists() {
        registry.remove_file(path);
    }
}
