//! Builds the plugins workspace (`plugins/`) and embeds the built-in plugins
//! in the `medic` binary. Installs the wasm targets with rustup when they
//! are missing, or stops with what to run instead.
//!
//! The built-ins are built for `wasm32-unknown-unknown` and made components
//! here (`wit-component`): they then import only the contract, where Rust's
//! standard library on `wasm32-wasip2` imports 13 WASI interfaces they never
//! call, each of which every fresh instance (`strict` isolation, two per
//! kill) had to link to a denying stub. The test plugins (hostile ones
//! reach for WASI) and users' plugins stay `wasm32-wasip2` components.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target of the test plugins (and of users' plugins).
const COMPONENT_TARGET: &str = "wasm32-wasip2";
/// The target of the built-ins: core modules, made components here.
const CORE_TARGET: &str = "wasm32-unknown-unknown";

/// The built-in plugins embedded in the binary, by crate name.
const BUILTINS: &[&str] = &[
    "weighted",
    "conservative",
    "balanced",
    "aggressive",
    "bounded",
    "evidence",
    "pessimistic",
    "calibrated",
];

fn main() {
    let root = PathBuf::from(env("CARGO_MANIFEST_DIR")).join("../..");
    let plugins = root.join("plugins");
    for watched in [
        ".cargo",
        "Cargo.toml",
        "Cargo.lock",
        "logic",
        "sdk",
        "builtin",
        "hostile",
        "fixtures",
    ] {
        println!("cargo:rerun-if-changed={}", plugins.join(watched).display());
    }
    println!("cargo:rerun-if-changed={}", root.join("wit").display());

    for target in [COMPONENT_TARGET, CORE_TARGET] {
        ensure_target(target);
    }
    let target_dir = plugins.join("target");
    let builtins: Vec<String> = BUILTINS.iter().map(|b| format!("--package={b}")).collect();
    let excluded: Vec<String> = BUILTINS.iter().map(|b| format!("--exclude={b}")).collect();
    cargo_build(&plugins, &target_dir, CORE_TARGET, &builtins);
    let mut rest = vec!["--workspace".to_string()];
    rest.extend(excluded);
    cargo_build(&plugins, &target_dir, COMPONENT_TARGET, &rest);

    // Every plugin, as a component, in one directory: the test plugins as
    // built, then the built-ins made components.
    let out = PathBuf::from(env("OUT_DIR"));
    let dir = out.join("plugins");
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| fail(&format!("cannot create {}: {e}", dir.display())));
    let components = target_dir.join(COMPONENT_TARGET).join("release");
    let entries = std::fs::read_dir(&components)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", components.display())));
    for entry in entries.flatten() {
        let path = entry.path();
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if path.extension().is_some_and(|e| e == "wasm") && !BUILTINS.contains(&stem) {
            copy(&path, &dir.join(entry.file_name()));
        }
    }
    let modules = target_dir.join(CORE_TARGET).join("release");
    let mut table = String::from("&[\n");
    for name in BUILTINS {
        let to = dir.join(format!("{name}.wasm"));
        componentize(&modules.join(format!("{name}.wasm")), &to);
        table.push_str(&format!(
            "    ({name:?}, include_bytes!({:?}) as &[u8]),\n",
            to.display().to_string()
        ));
    }
    table.push(']');
    std::fs::write(out.join("builtin_plugins.rs"), table)
        .unwrap_or_else(|e| fail(&format!("cannot write the built-in plugin table: {e}")));
    // Tests and benchmarks load the hostile and fixture plugins from here.
    println!("cargo:rustc-env=MEDIC_BUILT_PLUGINS_DIR={}", dir.display());
}

/// `cargo build --release` of some of the plugins workspace for a target.
fn cargo_build(plugins: &Path, target_dir: &Path, target: &str, packages: &[String]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(plugins)
        .args(["build", "--release", "--locked", "--target", target])
        .arg("--target-dir")
        .arg(target_dir)
        .args(packages);
    // The outer build's settings are not the plugins' settings.
    for var in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_LLVM_COV",
        "LLVM_PROFILE_FILE",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| fail(&format!("could not run cargo to build the plugins: {e}")));
    if !status.success() {
        fail(&format!(
            "building the plugins (plugins/, {target}) failed; the errors are above"
        ));
    }
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap_or_else(|e| {
        fail(&format!(
            "cannot copy {} to {}: {e}",
            from.display(),
            to.display()
        ))
    });
}

/// Makes a component of a built-in's core module (its `wit-bindgen`
/// bindings carry the contract's types in a custom section).
fn componentize(module: &Path, to: &Path) {
    let bytes = std::fs::read(module)
        .unwrap_or_else(|e| fail(&format!("missing built plugin {}: {e}", module.display())));
    let component = wit_component::ComponentEncoder::default()
        .module(&bytes)
        .and_then(|e| e.validate(true).encode())
        .unwrap_or_else(|e| {
            fail(&format!(
                "cannot make a component of {}: {e:#}",
                module.display()
            ))
        });
    std::fs::write(to, component)
        .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", to.display())));
}

/// Makes sure the standard library for a wasm target is installed.
fn ensure_target(target: &str) {
    if target_installed(target) {
        return;
    }
    println!(
        "cargo:warning=installing the {target} target with rustup (needed to build Medic's plugins)"
    );
    let mut cmd = Command::new("rustup");
    cmd.args(["target", "add", target]);
    if let Ok(toolchain) = std::env::var("RUSTUP_TOOLCHAIN") {
        cmd.args(["--toolchain", &toolchain]);
    }
    let ok = cmd.status().map(|s| s.success()).unwrap_or(false);
    if !ok || !target_installed(target) {
        fail(&format!(
            "the Rust target {target} is not installed and could not be installed here.\n\
             Run `rustup target add {target}` and build again."
        ));
    }
}

fn target_installed(target: &str) -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = Command::new(rustc)
        .args(["--print", "target-libdir", "--target", target])
        .output()
    else {
        return false;
    };
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    out.status.success() && has_core(Path::new(&dir))
}

fn has_core(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("libcore-"))
    })
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| fail(&format!("cargo did not set {name}")))
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
