//! The shape of the code, checked: the host's top-level modules and crates
//! (`decide`, `store`, `execute`, …; a crate under `host/<name>/` counts
//! as the module it stands for) must form no import cycle. A module's
//! imports are read from its source (`crate::<module>` and `medic_<crate>`
//! outside comments and test modules). An edge that still closes a cycle
//! would be listed in [`KNOWN_BACK_EDGES`] as debt (none is, since the
//! forward pass: `docs/ARCHITECTURE.md`); the test fails on any other
//! cycle, and on a listed edge that no longer exists (so the list only
//! shrinks).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Imports that still close a cycle, as (from, to): each one is debt.
const KNOWN_BACK_EDGES: &[(&str, &str)] = &[];

/// The crates under `host/` and the module each stands for (the `medic`
/// crate re-exports each under that name, and each crate imports its
/// dependencies under theirs).
const CRATES: &[(&str, &str)] = &[
    ("medic_model", "model"),
    ("medic_config", "config"),
    ("medic_telemetry", "telemetry"),
    ("medic_store", "store"),
    ("medic_plugin_host", "plugin"),
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

/// The top-level module a file belongs to (`None` for the crate roots).
fn module_of(root: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(root).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main" | "bin")).then(|| name.to_string())
}

/// The top-level modules a source file imports from (comments and test
/// modules left out).
fn imports(src: &str) -> BTreeSet<String> {
    let code = src.split("#[cfg(test)]").next().unwrap_or(src);
    let mut out = BTreeSet::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let line = line.split("//").next().unwrap_or(line);
        // The crates by role, named by their module in the `medic` crate.
        for (krate, module) in CRATES {
            if line.contains(&format!("{krate}::")) || line.contains(&format!("use {krate}")) {
                out.insert(module.to_string());
            }
        }
        let mut rest = line;
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
}
