//! Helpers shared by the integration tests.

use std::path::PathBuf;
use std::sync::Arc;

use medic::config::Config;
use medic::config::raw::PluginsSection;
use medic::model::{KillCase, ModuleProfile, NamedValues, PluginKind};
use medic::plugin::sandbox::Sandbox;
use medic::plugin::{
    BUILT_PLUGINS_DIR, Plugin, PluginSource, RuntimeSettings, ScoreRequest, golden,
    thresholds_from_config,
};

/// The `.wasm` the build made for a crate of `plugins/` (`-` becomes `_`).
pub fn wasm(crate_name: &str) -> PathBuf {
    PathBuf::from(BUILT_PLUGINS_DIR).join(format!("{}.wasm", crate_name.replace('-', "_")))
}

pub fn wasm_bytes(crate_name: &str) -> Vec<u8> {
    std::fs::read(wasm(crate_name)).expect("the build produces every plugin of plugins/")
}

/// The embedded configuration with its plugin settings changed by `edit`.
pub fn config_with(edit: impl FnOnce(&mut PluginsSection)) -> Config {
    let mut config = default_config();
    edit(&mut config.medic.plugins);
    config
}

/// The embedded configuration with a per-call deadline generous enough
/// that a loaded CI machine cannot turn a judgement into a timeout (tests of
/// the deadline itself set their own).
pub fn default_config() -> Config {
    let mut c = Config::embedded().expect("embedded configuration is valid");
    c.medic.plugins.timeout = std::time::Duration::from_millis(5_000);
    c
}

/// Loads one plugin file on its own sandbox.
pub fn load(config: &Config, crate_name: &str) -> Result<Plugin, medic::plugin::LoadError> {
    let sandbox = Arc::new(Sandbox::new(&config.medic.plugins).expect("sandbox starts"));
    Plugin::load(
        &sandbox,
        &RuntimeSettings::from_config(config),
        &wasm_bytes(crate_name),
        PluginSource::File(wasm(crate_name)),
        None,
    )
}

pub fn thresholds(config: &Config) -> NamedValues {
    thresholds_from_config(config)
}

/// A golden kill case by name.
pub fn case(name: &str) -> KillCase {
    golden::case(name).cloned().expect("golden case exists")
}

/// A score request over a case (the profile is built by the caller so it
/// outlives the request).
pub fn request<'a>(
    case: &'a KillCase,
    profile: &'a ModuleProfile,
    thresholds: &'a NamedValues,
) -> ScoreRequest<'a> {
    ScoreRequest {
        kill: &case.kill,
        context: case.context.as_ref(),
        profile,
        thresholds,
    }
}

pub fn kind_of(p: &Plugin) -> PluginKind {
    p.kind()
}

/// The compile cache the `medic` commands of these tests share.
pub fn test_cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("plugin-cache")
}

/// Runs the `medic` binary; returns (success, stdout, stderr).
pub fn medic(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_medic"))
        .args(args)
        .env_remove("MEDIC_CONFIG_PATH")
        // Compiled plugins are cached under the target directory, not in
        // the home directory of whoever runs the tests.
        .env("MEDIC_CACHE_DIR", test_cache_dir())
        .output()
        .expect("medic runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Writes the embedded medic.yaml with the store at `store` into `dir`.
pub fn config_file_with_store(dir: &std::path::Path, store: &std::path::Path) -> PathBuf {
    let path = dir.join("medic.yaml");
    let text = medic::config::EMBEDDED_MEDIC.replace(
        "path: \"data/medic.db\"",
        &format!("path: \"{}\"", store.display()),
    );
    std::fs::write(&path, text).expect("write the test config");
    path
}

/// A directory under the target directory for tools and artifacts tests
/// install or make (kept between runs).
pub fn tool_dir(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs a command that must succeed; its output, or a failure saying
/// `what` failed with everything it printed.
pub fn run(what: &str, cmd: &mut std::process::Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

/// A Python virtualenv at `venv` with `requirement` installed from PyPI
/// (once: kept while `program` is in it); its bin directory.
pub fn python_tool(venv: &std::path::Path, requirement: &str, program: &str) -> PathBuf {
    let bin = venv.join("bin");
    if !bin.join(program).exists() {
        let _ = std::fs::remove_dir_all(venv);
        run(
            "creating a Python virtualenv (needs python3 with venv: apt-get install python3 python3-venv)",
            std::process::Command::new("python3")
                .args(["-m", "venv"])
                .arg(venv),
        );
        run(
            &format!("installing {requirement} from PyPI (pip install {requirement})"),
            std::process::Command::new(bin.join("pip")).args(["install", "-q", requirement]),
        );
    }
    bin
}
