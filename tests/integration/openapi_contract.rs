//! The OpenAPI document is made from the code and matches what the router
//! serves; and schemathesis (from PyPI, installed into the target directory
//! on first use) fuzzes a real `medic serve` from that document, checking
//! every answer against it, with no server error.

use std::collections::BTreeSet;
use std::process::Command;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::acting_support::{Engine, yaml, yaml_set};
use crate::api_access::{every_route, send, state_with_roles};
use crate::pipeline_support::kill_json;
use crate::support::{python_tool, tool_dir};

/// The schemathesis release the test is written against.
const SCHEMATHESIS: &str = "schemathesis==4.32.5";

async fn call(state: &medic::api::AppState, method: Method, uri: &str) -> (StatusCode, Value) {
    let (status, body, _) = send(state, method.as_str(), uri, None, Body::empty()).await;
    (status, body)
}

/// Each operation in the document as (METHOD, path).
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                ops.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

#[tokio::test]
async fn the_document_is_served_and_matches_the_router() {
    let state = state_with_roles(0.0);
    let (status, doc) = call(&state, Method::GET, "/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK, "no key is needed for the document");
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{doc}"
    );
    assert_eq!(
        doc,
        serde_json::to_value(medic::api::openapi_document()).unwrap()
    );

    // The document lists exactly the routes the access tests cover, and
    // the access tests cover every route the router serves.
    let documented = operations(&doc);
    let covered: BTreeSet<(String, String)> = every_route()
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    assert_eq!(
        documented, covered,
        "document vs. the route table of api_access.rs"
    );

    for (method, path) in &documented {
        let op = &doc["paths"][path][method.to_lowercase()];
        let uri = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x1" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let (status, body) = call(&state, method.parse().unwrap(), &uri).await;
        let open = ["/health", "/health/ready", "/api/v1/openapi.json"].contains(&path.as_str());
        if open {
            assert!(
                op.get("security").is_none_or(|s| s == &json!([{}])),
                "{path}"
            );
            assert_eq!(status, StatusCode::OK, "{method} {path}");
        } else {
            // Served (not 404/405) and keyed, as documented.
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri}: {body}");
            assert_eq!(body["success"], false);
            assert_eq!(body["errors"][0]["code"], "unauthorized");
            assert_eq!(op["security"], json!([{"api_key": []}]), "{method} {path}");
            for code in ["200", "401", "403", "429", "500"] {
                assert!(
                    op["responses"].get(code).is_some(),
                    "{method} {path} does not document {code}"
                );
            }
        }
        assert!(
            op["tags"].as_array().is_some_and(|t| !t.is_empty()),
            "{method} {path} has no tag"
        );
    }

    // Every schema a response points at exists.
    let text = doc.to_string();
    for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = part.split('"').next().unwrap();
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "dangling $ref to {name}"
        );
    }
}

/// A virtualenv with schemathesis; its bin directory.
fn schemathesis() -> std::path::PathBuf {
    python_tool(
        &tool_dir("schemathesis").join("venv"),
        SCHEMATHESIS,
        "schemathesis",
    )
}

#[test]
fn schemathesis_finds_no_server_error_and_no_answer_off_the_document() {
    let bin = schemathesis();
    let engine = Engine::start(Vec::new(), |m, _| {
        // Fuzzing sends many requests from one key, and many wrong keys
        // from one address.
        yaml_set(m, "interfaces.web.rate_limit_per_second", yaml(json!(0)));
        yaml_set(m, "interfaces.web.auth_failures_per_minute", yaml(json!(0)));
    });
    // Data for the read routes to return.
    for i in 0..5 {
        let (status, body) = engine.post(
            "/api/v1/kills",
            kill_json(&format!("st-{i}"), "report-renderer"),
        );
        assert_eq!(status, 200, "{body}");
    }
    let report = tool_dir("test-artifacts").join("schemathesis-junit.xml");
    let settings = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/schemathesis/schemathesis.toml");
    let out = Command::new(bin.join("schemathesis"))
        // It keeps a cache in its working directory: not in the source tree.
        .current_dir(tool_dir("schemathesis"))
        .arg("--config-file")
        .arg(&settings)
        .arg("run")
        .arg(format!("{}/api/v1/openapi.json", engine.api))
        .args(["--header", &format!("X-API-Key: {}", engine.key)])
        // Every check is on by default; the settings file turns one off
        // for four operations, each with its reason.
        // One worker: Python 3.11's parser is not safe in parallel threads
        // (hypothesis describing a filter hit "AST constructor recursion
        // depth mismatch" with two).
        .args(["--max-examples", "40", "--seed", "1", "--workers", "1"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--generation-database", "none", "--no-color"])
        .args(["--report", "junit", "--report-junit-path"])
        .arg(&report)
        .output()
        .expect("schemathesis runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{text}\nmedic's log:\n{}",
        engine.log_text()
    );
    // Log lines reach the file from a writer thread, within ~20 ms: let
    // the last ones land before looking for what must not be there.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        !engine.log_text().contains("Internal error answering"),
        "{}",
        engine.log_text()
    );
}

#[test]
fn prometheus_scrapes_metrics_port_without_a_key_and_nothing_else_is_there() {
    let engine = Engine::start(Vec::new(), |_, _| {});
    let (status, body) = engine.post("/api/v1/kills", kill_json("metrics-1", "report-renderer"));
    assert_eq!(status, 200, "{body}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (status, text, other, keyless_api) = rt.block_on(async {
        let http = reqwest::Client::new();
        let res = http
            .get(format!("{}/metrics", engine.metrics))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        let other = http
            .get(format!("{}/api/v1/status", engine.metrics))
            .header("X-API-Key", &engine.key)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        let keyless_api = http
            .get(format!("{}/metrics", engine.api))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        (status, text, other, keyless_api)
    });
    assert_eq!(status, 200, "{text}");
    for line in [
        format!(
            "medic_info{{service=\"medic-agent\",version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        ),
        "medic_kills_received_total 1\n".to_string(),
        "# TYPE medic_plugin_call_seconds histogram\n".to_string(),
        "medic_plugin_call_seconds_count{plugin=\"balanced\",kind=\"strategy\"".to_string(),
        "medic_decision_latency_seconds_count 1\n".to_string(),
        "medic_redis_pending ".to_string(),
        "# TYPE medic_store_sync_seconds histogram\n".to_string(),
        "medic_store_sync_seconds_count{part=\"record_log\"} ".to_string(),
        "medic_store_sync_seconds_count{part=\"sled\"} ".to_string(),
    ] {
        assert!(text.contains(&line), "{line} missing from:\n{text}");
    }
    assert_eq!(other, 404, "metrics.port serves only /metrics");
    assert_eq!(keyless_api, 401, "the API port's /metrics needs a key");
}

/// The document states the rules kill validation enforces — the
/// timestamp's window, each list's items, `metadata`'s size, a batch's
/// size, the cursor's form — and the server accepts what those rules
/// allow at their edges: lengths are counted in characters, as JSON
/// Schema's `maxLength` counts them (128 two-byte characters are 256
/// bytes), and a kill 29 days old is decided while one 31 days old is
/// refused for the reason the document gives.
#[tokio::test]
async fn the_document_states_the_rules_the_server_enforces() {
    let doc = serde_json::to_value(medic::api::openapi_document()).unwrap();
    let schemas = &doc["components"]["schemas"];
    let kill = &schemas["KillReport"]["properties"];
    let window = kill["timestamp"]["description"].as_str().unwrap();
    assert!(
        window.contains("5 minutes") && window.contains("30 days"),
        "{window}"
    );
    assert_eq!(kill["evidence"]["items"]["maxLength"], 1024);
    assert_eq!(kill["evidence"]["maxItems"], 64);
    assert_eq!(
        kill["dependencies"]["items"]["pattern"],
        medic::config::NAME_PATTERN
    );
    assert_eq!(kill["metadata"]["maxProperties"], 64);
    assert!(
        kill["metadata"]["description"]
            .as_str()
            .unwrap()
            .contains("16384 bytes")
    );
    let batch = schemas["KillsBody"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["type"] == "array")
        .unwrap();
    assert_eq!(batch["maxItems"], 1000);
    let cursor = doc["paths"]["/api/v1/decisions"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "cursor")
        .unwrap();
    assert_eq!(
        cursor["schema"]["pattern"],
        "^[0-9]{1,15}[.][A-Za-z0-9_][A-Za-z0-9._-]{0,127}$"
    );

    let state = state_with_roles(0.0);
    let admin = crate::api_access::key_of(medic::config::raw::Role::Admin);
    let post = |kill: Value| {
        let state = state.clone();
        let admin = admin.clone();
        async move {
            let (status, body, _) = crate::api_access::send(
                &state,
                "POST",
                "/api/v1/kills",
                Some(&admin),
                Body::from(kill.to_string()),
            )
            .await;
            (status, body)
        }
    };
    let mut edge = kill_json("edge-1", "svc");
    edge["source_agent"] = json!("é".repeat(128));
    edge["evidence"] = json!(["ü".repeat(1024)]);
    edge["timestamp"] = json!((chrono::Utc::now() - chrono::Duration::days(29)).to_rfc3339());
    let (status, body) = post(edge.clone()).await;
    assert_eq!(status, StatusCode::OK, "the schema allows it: {body}");

    let mut over = kill_json("edge-2", "svc");
    over["source_agent"] = json!("é".repeat(129));
    let (status, body) = post(over).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "source_agent", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("129 characters (limit 128)"),
        "{body}"
    );

    let mut old = kill_json("edge-3", "svc");
    old["timestamp"] = json!((chrono::Utc::now() - chrono::Duration::days(31)).to_rfc3339());
    let (status, body) = post(old).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "timestamp", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("more than 30 days old"),
        "{body}"
    );
}
