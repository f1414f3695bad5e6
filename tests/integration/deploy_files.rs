//! `deploy/`: the replica configuration the compose file, the image and
//! the Kubernetes manifests share is one Medic accepts with the variables
//! they set (and refuses, naming the key, without them); the manifests
//! probe the routes Medic serves and set only variables Medic reads.

use std::collections::BTreeSet;
use std::path::Path;

use medic::config::Config;
use medic::config::raw::{DatabaseType, EventBusType};
use serde_yaml::Value;

fn deploy(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The variables Medic reads that the deployments set.
const VARIABLES: [&str; 4] = [
    "MEDIC_CONFIG_PATH",
    "MEDIC_DATABASE_URL",
    "SMITH_EVENT_BUS_URL",
    "MEDIC_API_KEY",
];

#[test]
fn the_replica_configuration_runs_with_the_variables_the_deployments_set() {
    let medic = deploy("medic.yaml");
    let env = |k: &str| match k {
        "MEDIC_DATABASE_URL" => Some("postgres://medic:pw@postgres:5432/medic".to_string()),
        "SMITH_EVENT_BUS_URL" => Some("redis://redis:6379".to_string()),
        _ => None,
    };
    let c = Config::from_texts(
        ("deploy/medic.yaml", &medic),
        ("constitution", medic::config::EMBEDDED_CONSTITUTION),
        &env,
    )
    .unwrap();
    assert_eq!(c.medic.learning.database.kind, DatabaseType::Postgres);
    assert_eq!(c.medic.smith.event_bus.kind, EventBusType::Redis);
    assert_eq!(c.medic.interfaces.web.host, "0.0.0.0");
    assert_eq!(c.medic.mode.current, medic::config::Mode::Observer);
    // A secret not mounted is named, not guessed.
    let err = Config::from_texts(
        ("deploy/medic.yaml", &medic),
        ("constitution", medic::config::EMBEDDED_CONSTITUTION),
        &|_| None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("learning.database.url"), "{err}");
}

fn env_names(env: &Value) -> BTreeSet<String> {
    match env {
        Value::Sequence(items) => items
            .iter()
            .filter_map(|i| i["name"].as_str().map(str::to_string))
            .collect(),
        Value::Mapping(m) => m
            .keys()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect(),
        _ => BTreeSet::new(),
    }
}

#[test]
fn the_kubernetes_manifests_probe_medics_routes_and_keep_two_replicas() {
    let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&deploy("kubernetes.yaml"))
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    let kind = |k: &str| {
        docs.iter()
            .find(|d| d["kind"] == k)
            .unwrap_or_else(|| panic!("no {k}"))
    };
    let deployment = kind("Deployment");
    let replicas = deployment["spec"]["replicas"].as_u64().unwrap();
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["readinessProbe"]["httpGet"]["path"],
        "/health/ready"
    );
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/health");
    assert_eq!(container["ports"][0]["containerPort"], 8000);
    let set = env_names(&container["env"]);
    assert_eq!(set, VARIABLES.iter().map(|v| v.to_string()).collect());
    let budget = kind("PodDisruptionBudget")["spec"]["minAvailable"]
        .as_u64()
        .unwrap();
    assert!(budget >= 2 && budget < replicas, "{budget} of {replicas}");
    assert_eq!(kind("Service")["spec"]["ports"][0]["port"], 8000);
    // The ConfigMap is made from the same medic.yaml.
    let kustomization: Value = serde_yaml::from_str(&deploy("kustomization.yaml")).unwrap();
    assert_eq!(
        kustomization["configMapGenerator"][0]["files"][0],
        "medic.yaml"
    );
}

#[test]
fn the_compose_file_runs_three_replicas_with_their_own_names() {
    let compose: Value = serde_yaml::from_str(&deploy("compose.yaml")).unwrap();
    let services = compose["services"].as_mapping().unwrap();
    let medics: Vec<_> = services
        .iter()
        .filter(|(name, _)| name.as_str().is_some_and(|n| n.starts_with("medic-")))
        .collect();
    assert_eq!(medics.len(), 3);
    let hostnames: BTreeSet<_> = medics
        .iter()
        .map(|(_, s)| s["hostname"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(hostnames.len(), 3, "each replica its own consumer name");
    // The shared settings, merged into each replica.
    let shared = &compose["x-medic"];
    let set = env_names(&shared["environment"]);
    for v in ["MEDIC_DATABASE_URL", "SMITH_EVENT_BUS_URL", "MEDIC_API_KEY"] {
        assert!(set.contains(v), "{v} missing from {set:?}");
    }
    assert!(services.contains_key("redis") && services.contains_key("postgres"));
}
