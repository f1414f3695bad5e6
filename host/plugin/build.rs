//! Builds the plugins workspace (`plugins/`) for `wasm32-wasip2` and embeds
//! the built-in plugins in the `medic` binary. Installs the wasm target with
//! rustup when it is missing, or stops with what to run instead.

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

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

    ensure_target();
    let target_dir = plugins.join("target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&plugins)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            TARGET,
            "--target-dir",
        ])
        .arg(&target_dir);
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
        fail("building the plugins (plugins/, wasm32-wasip2) failed; the errors are above");
    }

    let built = target_dir.join(TARGET).join("release");
    let out = PathBuf::from(env("OUT_DIR"));
    let mut table = String::from("&[\n");
    for name in BUILTINS {
        let from = built.join(format!("{name}.wasm"));
        let to = out.join(format!("{name}.wasm"));
        std::fs::copy(&from, &to)
            .unwrap_or_else(|e| fail(&format!("missing built plugin {}: {e}", from.display())));
        table.push_str(&format!(
            "    ({name:?}, include_bytes!({:?}) as &[u8]),\n",
            to.display().to_string()
        ));
    }
    table.push(']');
    std::fs::write(out.join("builtin_plugins.rs"), table)
        .unwrap_or_else(|e| fail(&format!("cannot write the built-in plugin table: {e}")));
    // Tests and benchmarks load the hostile and fixture plugins from here.
    println!(
        "cargo:rustc-env=MEDIC_BUILT_PLUGINS_DIR={}",
        built.display()
    );
}

/// Makes sure the standard library for wasm32-wasip2 is installed.
fn ensure_target() {
    if target_installed() {
        return;
    }
    println!(
        "cargo:warning=installing the {TARGET} target with rustup (needed to build Medic's plugins)"
    );
    let mut cmd = Command::new("rustup");
    cmd.args(["target", "add", TARGET]);
    if let Ok(toolchain) = std::env::var("RUSTUP_TOOLCHAIN") {
        cmd.args(["--toolchain", &toolchain]);
    }
    let ok = cmd.status().map(|s| s.success()).unwrap_or(false);
    if !ok || !target_installed() {
        fail(&format!(
            "the Rust target {TARGET} is not installed and could not be installed here.\n\
             Run `rustup target add {TARGET}` and build again."
        ));
    }
}

fn target_installed() -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = Command::new(rustc)
        .args(["--print", "target-libdir", "--target", TARGET])
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
