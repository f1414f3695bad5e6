//! `medic plugin new`: a ready plugin project — in Rust, Python or
//! JavaScript, for any of the three worlds — from the templates kept in
//! `plugins/templates/` (embedded in the binary): the plugin with a working
//! example, the WIT it implements, fixtures with expectations, build and
//! test scripts, and a README for its author.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::model::PluginKind;
use crate::plugin::golden;

/// The languages a plugin can be written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthoringError {
    #[error("name {0:?}: use 1-64 of a-z 0-9 and -, starting with a letter")]
    Name(String),
    #[error("{0} already exists: choose another directory or remove it")]
    Exists(PathBuf),
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

const WIT_TYPES: &str = include_str!("../wit/types.wit");
const WIT_WORLDS: &str = include_str!("../wit/worlds.wit");

/// The contract's version, from its package line.
pub fn wit_version() -> &'static str {
    WIT_WORLDS
        .lines()
        .find_map(|l| l.trim().strip_prefix("package medic:plugin@"))
        .map_or("unknown", |v| v.trim_end_matches(';'))
}

/// Where the guest SDK was when this Medic was built (a generated Rust
/// project depends on it by path).
pub const SDK_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/plugins/sdk");

fn template(lang: Lang, kind: PluginKind) -> (&'static str, &'static str) {
    use PluginKind::*;
    match (lang, kind) {
        (Lang::Rust, Strategy) => (
            "src/lib.rs",
            include_str!("../plugins/templates/rust/strategy.rs"),
        ),
        (Lang::Rust, RiskScorer) => (
            "src/lib.rs",
            include_str!("../plugins/templates/rust/risk-scorer.rs"),
        ),
        (Lang::Rust, ThresholdLearner) => (
            "src/lib.rs",
            include_str!("../plugins/templates/rust/threshold-learner.rs"),
        ),
        (Lang::Python, Strategy) => (
            "app.py",
            include_str!("../plugins/templates/python/strategy.py"),
        ),
        (Lang::Python, RiskScorer) => (
            "app.py",
            include_str!("../plugins/templates/python/risk-scorer.py"),
        ),
        (Lang::Python, ThresholdLearner) => (
            "app.py",
            include_str!("../plugins/templates/python/threshold-learner.py"),
        ),
        (Lang::Js, Strategy) => (
            "app.js",
            include_str!("../plugins/templates/js/strategy.js"),
        ),
        (Lang::Js, RiskScorer) => (
            "app.js",
            include_str!("../plugins/templates/js/risk-scorer.js"),
        ),
        (Lang::Js, ThresholdLearner) => (
            "app.js",
            include_str!("../plugins/templates/js/threshold-learner.js"),
        ),
    }
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Fixture lines with expectations for the example each template ships.
fn fixtures(kind: PluginKind) -> (&'static str, String) {
    let case = |name: &str, expect: serde_json::Value| {
        let c = golden::case(name).cloned();
        let mut v = serde_json::to_value(c).unwrap_or_default();
        v["expect"] = expect;
        v.to_string()
    };
    match kind {
        PluginKind::Strategy => (
            "kills.jsonl",
            [
                case("low-risk", json!({"outcome": "approve_auto"})),
                case("critical-threat", json!({"outcome": "deny"})),
                case("no-context", json!({"outcome": "pending_review"})),
            ]
            .join("\n"),
        ),
        PluginKind::RiskScorer => (
            "kills.jsonl",
            [
                case("low-risk", json!({"risk_level": "minimal"})),
                case("critical-threat", json!({"risk_level": "critical"})),
                case("no-context", json!({"risk_level": "high"})),
            ]
            .join("\n"),
        ),
        PluginKind::ThresholdLearner => (
            "outcomes.jsonl",
            golden::learner_samples()
                .iter()
                .filter_map(|s| serde_json::to_string(s).ok())
                .collect::<Vec<_>>()
                .join("\n"),
        ),
    }
}

/// Creates the project `dir/name`; returns the files written.
pub fn create(
    name: &str,
    kind: PluginKind,
    lang: Lang,
    dir: &Path,
) -> Result<Vec<PathBuf>, AuthoringError> {
    if !valid_name(name) {
        return Err(AuthoringError::Name(name.to_string()));
    }
    let root = dir.join(name);
    if root.exists() {
        return Err(AuthoringError::Exists(root));
    }
    let (source, code) = template(lang, kind);
    let (fixture_file, fixture_lines) = fixtures(kind);
    let interpreted = lang != Lang::Rust;
    let function = match kind {
        PluginKind::Strategy => "decide",
        PluginKind::RiskScorer => "score",
        PluginKind::ThresholdLearner => "learn",
    };
    let vars: Vec<(&str, String)> = vec![
        ("{{name}}", name.to_string()),
        ("{{crate}}", name.replace('-', "_")),
        ("{{kind}}", kind.world().to_string()),
        ("{{world}}", kind.world().to_string()),
        ("{{sdk}}", SDK_DIR.to_string()),
        ("{{wit_version}}", wit_version().to_string()),
        (
            "{{language}}",
            match lang {
                Lang::Rust => "Rust",
                Lang::Python => "Python",
                Lang::Js => "JavaScript",
            }
            .to_string(),
        ),
        (
            "{{wit_note}}",
            if lang == Lang::Rust {
                " of the Medic repository, through the SDK crate".to_string()
            } else {
                String::new()
            },
        ),
        (
            "{{build_what}}",
            match lang {
                Lang::Rust => "cargo build --target wasm32-wasip2",
                Lang::Python => "componentize-py (pip install componentize-py==0.25.1)",
                Lang::Js => "componentize-js (npm install)",
            }
            .to_string(),
        ),
        ("{{source}}", source.to_string()),
        ("{{function}}", function.to_string()),
        (
            "{{fixtures_what}}",
            if kind == PluginKind::ThresholdLearner {
                "outcome samples (`medic plugin run … --outcomes`)".to_string()
            } else {
                "kills with SIEM context and what the plugin should answer".to_string()
            },
        ),
        (
            "{{fixtures}}",
            if kind == PluginKind::ThresholdLearner {
                "--outcomes fixtures/outcomes.jsonl".to_string()
            } else {
                "--kills fixtures/kills.jsonl".to_string()
            },
        ),
        (
            "{{isolation}}",
            if interpreted { "reuse" } else { "strict" }.to_string(),
        ),
        (
            "{{isolation_why}}",
            if interpreted {
                "an interpreter is too big to start afresh for every call".to_string()
            } else {
                "a fresh instance per call".to_string()
            },
        ),
        (
            "{{timeout_ms}}",
            if interpreted { "1000" } else { "50" }.to_string(),
        ),
        (
            "{{memory_mb}}",
            if interpreted { "64" } else { "32" }.to_string(),
        ),
    ];
    let fill = |text: &str| {
        vars.iter()
            .fold(text.to_string(), |t, (k, v)| t.replace(k, v))
    };
    let mut files: Vec<(String, String)> = vec![
        (source.to_string(), fill(code)),
        (
            "README.md".into(),
            fill(include_str!("../plugins/templates/README.md")),
        ),
        (
            "test.sh".into(),
            fill(include_str!("../plugins/templates/test.sh")),
        ),
        (
            "plugin-test.yaml".into(),
            fill(include_str!("../plugins/templates/plugin-test.yaml")),
        ),
        (format!("fixtures/{fixture_file}"), fixture_lines + "\n"),
    ];
    match lang {
        Lang::Rust => {
            files.push((
                "Cargo.toml".into(),
                fill(include_str!("../plugins/templates/rust/Cargo.toml")),
            ));
            files.push((
                "build.sh".into(),
                fill(include_str!("../plugins/templates/rust/build.sh")),
            ));
            files.push((".gitignore".into(), "/target\n*.wasm\n".into()));
        }
        Lang::Python => {
            files.push((
                "common.py".into(),
                include_str!("../plugins/templates/python/common.py").into(),
            ));
            files.push((
                "build.sh".into(),
                fill(include_str!("../plugins/templates/python/build.sh")),
            ));
            files.push((".gitignore".into(), "__pycache__/\n*.wasm\n".into()));
        }
        Lang::Js => {
            files.push((
                "common.js".into(),
                include_str!("../plugins/templates/js/common.js").into(),
            ));
            files.push((
                "package.json".into(),
                fill(include_str!("../plugins/templates/js/package.json")),
            ));
            files.push((
                "build.sh".into(),
                fill(include_str!("../plugins/templates/js/build.sh")),
            ));
            files.push((".gitignore".into(), "node_modules/\n*.wasm\n".into()));
        }
    }
    if interpreted {
        files.push(("wit/types.wit".into(), WIT_TYPES.into()));
        files.push(("wit/worlds.wit".into(), WIT_WORLDS.into()));
    }
    let mut written = Vec::new();
    for (rel, text) in files {
        let path = root.join(&rel);
        let write = || -> std::io::Result<()> {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, text)
        };
        write().map_err(|source| AuthoringError::Write {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}
