//! Reading configuration text: YAML syntax, then each section on its own so
//! one bad section does not hide problems in the others, with every unknown
//! key reported by its full path.

use serde::de::DeserializeOwned;
use serde_yaml::{Mapping, Value};

use super::Problem;

/// Parses a YAML document whose top level is a mapping.
pub(super) fn root(file: &str, text: &str, problems: &mut Vec<Problem>) -> Mapping {
    match serde_yaml::from_str::<Value>(text) {
        Ok(Value::Mapping(m)) => m,
        Ok(Value::Null) => {
            problems.push(Problem::new(
                file,
                "",
                "the file is empty: write the settings to change (config/medic.yaml and config/constitution.yaml show them all), or leave the file out to run on the embedded defaults",
            ));
            Mapping::new()
        }
        Ok(_) => {
            problems.push(Problem::new(
                file,
                "",
                "the top level must be a mapping of sections",
            ));
            Mapping::new()
        }
        Err(e) => {
            problems.push(Problem::new(file, "", format!("not valid YAML: {e}")));
            Mapping::new()
        }
    }
}

/// Reports top-level keys that are not sections of this file.
pub(super) fn unknown_sections(
    file: &str,
    root: &Mapping,
    known: &[&str],
    problems: &mut Vec<Problem>,
) {
    for key in root.keys() {
        match key.as_str() {
            Some(k) if known.contains(&k) => {}
            Some(k) => problems.push(Problem::new(
                file,
                k,
                format!("unknown section (known: {})", known.join(", ")),
            )),
            None => problems.push(Problem::new(file, "", "section names must be strings")),
        }
    }
}

/// Deserializes one section, reporting unknown keys and a bad value by path.
/// A section that does not parse yields its default so checking goes on.
pub(super) fn section<T: DeserializeOwned + Default>(
    file: &str,
    root: &Mapping,
    key: &str,
    problems: &mut Vec<Problem>,
) -> T {
    let Some(value) = root.get(key) else {
        return T::default();
    };
    let mut unknown: Vec<String> = Vec::new();
    let result: Result<T, _> = {
        let mut record = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
        let de = serde_ignored::Deserializer::new(value.clone(), &mut record);
        serde_path_to_error::deserialize(de)
    };
    for path in unknown {
        problems.push(Problem::new(file, &join(key, &path), "unknown key"));
    }
    match result {
        Ok(v) => v,
        Err(e) => {
            let path = e.path().to_string();
            let path = if path == "." {
                key.to_string()
            } else {
                join(key, &path)
            };
            problems.push(Problem::new(file, &path, e.into_inner().to_string()));
            T::default()
        }
    }
}

fn join(key: &str, path: &str) -> String {
    if path.is_empty() || path == "?" {
        key.to_string()
    } else {
        format!("{key}.{path}")
    }
}
