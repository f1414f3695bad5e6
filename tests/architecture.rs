//! The shape of the code, checked: the host's top-level modules and crates
//! (`decide`, `store`, `execute`, …) must form no import cycle. A crate
//! under `host/<name>/` counts as the module it stands for (`medic-store`
//! is `store`), except `medic-engine`, whose top-level modules
//! (`host/engine/decide.rs`, `host/engine/execute/`, …) count each as
//! itself, as the `medic` crate re-exports each. A module's imports are
//! read from its source (`crate::<module>`, `medic_<crate>` and
//! `medic_engine::<module>` outside comments and test modules). An edge
//! that still closes a cycle would be listed in [`KNOWN_BACK_EDGES`] as
//! debt (none is, since the forward pass: `docs/ARCHITECTURE.md`); the test
//! fails on any other cycle, and on a listed edge that no longer exists (so
//! the list only shrinks).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Imports that still close a cycle, as (from, to): each one is debt.
const KNOWN_BACK_EDGES: &[(&str, &str)] = &[];

/// What a crate under `host/` stands for in the graph.
enum Stands {
    /// One module: the `medic` crate re-exports the crate under this name,
    /// and each crate imports its dependencies under theirs.
    Module(&'static str),
    /// The top-level modules inside its directory (`host/<dir>/`), each
    /// re-exported by the `medic` crate under its own name and imported
    /// by path (`medic_engine::decide`).
    Modules { dir: &'static str },
}

/// The crates under `host/` and what each stands for.
const CRATES: &[(&str, Stands)] = &[
    ("medic_model", Stands::Module("model")),
    ("medic_config", Stands::Module("config")),
    ("medic_telemetry", Stands::Module("telemetry")),
    ("medic_store", Stands::Module("store")),
    ("medic_plugin_host", Stands::Module("plugin")),
    ("medic_engine", Stands::Modules { dir: "engine" }),
    ("medic_api", Stands::Module("api")),
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file belongs to (`None` for the crate roots):
/// the first name under `host/`, or the second under the directory of a
/// crate that stands for the modules inside it.
fn module_of(root: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(root).ok()?;
    let mut names = rel.components().map(|c| c.as_os_str().to_str());
    let mut first = names.next()??;
    let of_many = CRATES
        .iter()
        .any(|(_, s)| matches!(s, Stands::Modules { dir } if *dir == first));
    if of_many {
        first = names.next()??;
    }
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main" | "bin")).then(|| name.to_string())
}

/// The names a path continues with after `prefix` (`decide` in
/// `decide::Decider`; `decide` and `fleet` in `{decide, fleet::Fleet}`).
fn path_heads(after: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let Some(group) = after.strip_prefix('{') else {
        return vec![ident(after)];
    };
    let (mut depth, mut heads, mut start) = (0usize, Vec::new(), 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                heads.push(ident(&group[start..i]));
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                heads.push(ident(&group[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    heads
}

/// The top-level modules a source file imports from (comments and test
/// modules left out).
fn imports(src: &str) -> BTreeSet<String> {
    let before_tests = src.split("#[cfg(test)]").next().unwrap_or(src);
    let code: String = before_tests
        .lines()
        .map(|line| line.trim_start())
        .filter(|line| !line.starts_with("//"))
        .map(|line| line.split("//").next().unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = BTreeSet::new();
    // The crates by role, named by their module in the `medic` crate.
    for (krate, stands) in CRATES {
        match stands {
            Stands::Module(module) => {
                if code.contains(&format!("{krate}::")) || code.contains(&format!("use {krate}")) {
                    out.insert(module.to_string());
                }
            }
            Stands::Modules { .. } => {
                let prefix = format!("{krate}::");
                let mut rest = code.as_str();
                while let Some(i) = rest.find(&prefix) {
                    rest = &rest[i + prefix.len()..];
                    out.extend(path_heads(rest).into_iter().filter(|h| {
                        !h.is_empty() && h != "self" && h.chars().all(|c| !c.is_ascii_uppercase())
                    }));
                }
            }
        }
    }
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && name.chars().all(|c| !c.is_ascii_uppercase()) {
            out.insert(name);
        }
    }
    out
}

type Graph = BTreeMap<String, BTreeSet<String>>;

fn graph() -> Graph {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("host");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(&root, f)).collect();
    let mut g = Graph::new();
    for f in &files {
        let Some(from) = module_of(&root, f) else {
            continue;
        };
        let src = std::fs::read_to_string(f).expect("a source file reads");
        let to = g.entry(from.clone()).or_default();
        for m in imports(&src) {
            if m != from && modules.contains(&m) {
                to.insert(m);
            }
        }
    }
    g
}

/// A cycle through the graph, if there is one.
fn cycle(g: &Graph) -> Option<Vec<String>> {
    fn visit(
        g: &Graph,
        n: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut c = path[i..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for next in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(g, next, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    g.keys()
        .find_map(|n| visit(g, n, &mut Vec::new(), &mut done))
}

#[test]
fn the_top_level_modules_form_no_import_cycle_beyond_the_known_debt() {
    let mut g = graph();
    assert!(g.len() > 10, "the host's modules were found: {g:?}");
    assert!(
        ["api", "decide", "engine", "execute", "store"]
            .iter()
            .all(|m| g.contains_key(*m)),
        "the modules inside the engine's crate were found: {g:?}"
    );
    for (from, to) in KNOWN_BACK_EDGES {
        let removed = g.get_mut(*from).is_some_and(|s| s.remove(*to));
        assert!(
            removed,
            "{from} no longer imports {to}: remove it from KNOWN_BACK_EDGES"
        );
    }
    if let Some(c) = cycle(&g) {
        panic!(
            "import cycle between the host's modules: {}",
            c.join(" -> ")
        );
    }
}

#[test]
fn the_checker_finds_a_cycle_and_reads_imports() {
    let mut g = Graph::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    assert_eq!(cycle(&g), None);
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        cycle(&g),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    let src = "use crate::store::Store;\n// crate::decide in a comment\nlet x = crate::model::Kill::new(); crate::Thing\nuse medic_telemetry as telemetry;\nlet m = \"medic_config_seconds\";\n#[cfg(test)]\nuse crate::api;";
    let found: Vec<String> = imports(src).into_iter().collect();
    assert_eq!(found, ["model", "store", "telemetry"]);
    // The engine's crate stands for the modules inside it, named by path.
    let src = "use medic_engine::{\n    decide::Decider, execute::{backend, Resurrector},\n    self, fleet,\n};\nlet e = medic_engine::engine::Engine::new();\nuse medic_engine::Parts;\n// medic_engine::learn in a comment\nuse medic_api::router;";
    let found: Vec<String> = imports(src).into_iter().collect();
    assert_eq!(found, ["api", "decide", "engine", "execute", "fleet"]);
    let root = Path::new("/r/host");
    let module = |file: &str| module_of(root, &root.join(file));
    assert_eq!(module("decide.rs"), Some("decide".into()));
    assert_eq!(module("store/lib.rs"), Some("store".into()));
    assert_eq!(module("api/lib.rs"), Some("api".into()));
    assert_eq!(module("api/health.rs"), Some("api".into()));
    assert_eq!(module("engine/decide.rs"), Some("decide".into()));
    assert_eq!(module("engine/engine.rs"), Some("engine".into()));
    assert_eq!(module("engine/execute/backend.rs"), Some("execute".into()));
    assert_eq!(module("engine/lib.rs"), None);
    assert_eq!(module("lib.rs"), None);
}
