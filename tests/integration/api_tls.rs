//! `medic serve` with `interfaces.web.tls` on, as a real process: it answers
//! over HTTPS to a client trusting the CA (the CLI too), refuses plain HTTP
//! and untrusted clients without stopping, and still stops gracefully on
//! SIGTERM.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_yaml::Value;

use crate::acting_support::free_port;
use crate::test_pki::TestPki;

const KEY: &str = "tls-test-admin-key-0123456789";

/// The embedded config with the store in `dir`, the API on `port` and TLS
/// on with the test PKI's files.
fn write_config(dir: &Path, port: u16, pki: &TestPki) -> PathBuf {
    let cert = dir.join("server.pem");
    let key = dir.join("server-key.pem");
    std::fs::write(&cert, &pki.cert_pem).expect("cert file");
    std::fs::write(&key, &pki.key_pem).expect("key file");
    let mut doc: Value = serde_yaml::from_str(medic::config::EMBEDDED_MEDIC).expect("embedded");
    let set = |doc: &mut Value, path: &[&str], v: Value| {
        let mut at = doc;
        for k in &path[..path.len() - 1] {
            at = at.get_mut(*k).expect("key in the embedded config");
        }
        at[path[path.len() - 1]] = v;
    };
    let store = dir.join("store").display().to_string();
    set(&mut doc, &["learning", "database", "path"], store.into());
    set(&mut doc, &["interfaces", "web", "port"], port.into());
    set(
        &mut doc,
        &["interfaces", "web", "tls", "enabled"],
        true.into(),
    );
    let cert = cert.display().to_string();
    set(
        &mut doc,
        &["interfaces", "web", "tls", "cert_file"],
        cert.into(),
    );
    let key = key.display().to_string();
    set(
        &mut doc,
        &["interfaces", "web", "tls", "key_file"],
        key.into(),
    );
    set(&mut doc, &["logging", "format"], "text".into());
    set(&mut doc, &["logging", "level"], "DEBUG".into());
    let path = dir.join("medic.yaml");
    std::fs::write(&path, serde_yaml::to_string(&doc).expect("yaml")).expect("config");
    path
}

fn spawn(config: &Path, log: &Path) -> Child {
    let log = std::fs::File::create(log).expect("log file");
    Command::new(env!("CARGO_BIN_EXE_medic"))
        .args(["serve", "--config"])
        .arg(config)
        .env_remove("MEDIC_CONFIG_PATH")
        .env("MEDIC_API_KEY", KEY)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("medic starts")
}

fn trusting(pki: &TestPki) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).expect("ca"))
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
}

#[tokio::test]
async fn medic_serve_with_tls_answers_https_and_refuses_plain_http() {
    let pki = crate::test_pki::make();
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let config = write_config(dir.path(), port, &pki);
    let log = dir.path().join("medic.log");
    let mut medic = spawn(&config, &log);
    let show_log = || std::fs::read_to_string(&log).unwrap_or_default();

    let client = trusting(&pki);
    let health = format!("https://127.0.0.1:{port}/health");
    let deadline = Instant::now() + Duration::from_secs(120);
    let first = loop {
        match client.get(&health).send().await {
            Ok(r) => break r,
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "no HTTPS answer: {e}; log:\n{}",
                    show_log()
                );
                assert!(
                    medic.try_wait().expect("wait").is_none(),
                    "medic exited; log:\n{}",
                    show_log()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    assert_eq!(first.status(), 200);
    let body: serde_json::Value = first.json().await.expect("health json");
    assert_eq!(body["status"], "healthy", "{body}");

    // The whole API is behind TLS, keys and all.
    let status = client
        .get(format!("https://127.0.0.1:{port}/api/v1/status"))
        .header("X-API-Key", KEY)
        .send()
        .await
        .expect("status over https");
    assert_eq!(status.status(), 200);

    // Plain HTTP on the same port gets no HTTP answer.
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await;
    assert!(
        plain.is_err(),
        "plain HTTP was answered: {:?}",
        plain.map(|r| r.status())
    );
    // A client that does not trust the CA is refused in the handshake.
    let untrusted = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
        .get(&health)
        .send()
        .await;
    assert!(untrusted.is_err(), "an untrusted handshake succeeded");

    // Neither failed handshake stopped the server.
    let again = client.get(&health).send().await.expect("still serving");
    assert_eq!(again.status(), 200);
    // Log lines reach the file from a writer thread, within ~20 ms.
    crate::acting_support::wait_for("the failed handshake in the log", 10, || {
        show_log().contains("TLS handshake failed")
    });

    // The CLI finds the engine at https:// from the same config and trusts
    // the private CA given to it; without it the certificate is refused.
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).expect("ca file");
    let cli = |ca: Option<&Path>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_medic"));
        cmd.args(["mode", "show", "--config"])
            .arg(&config)
            .env_remove("MEDIC_CONFIG_PATH")
            .env_remove("MEDIC_CA_FILE")
            .env("MEDIC_API_KEY", KEY);
        if let Some(ca) = ca {
            cmd.arg("--ca-file").arg(ca);
        }
        cmd.output().expect("medic mode show runs")
    };
    let shown = cli(Some(&ca));
    let out = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.status.success() && out.contains("observer"),
        "{out}{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let refused = cli(None);
    assert!(!refused.status.success(), "an untrusted CA was accepted");
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains(&format!("https://127.0.0.1:{port}")), "{err}");

    // `medic report` too: the running engine holds the store, so the weekly
    // report (as HTML, not an envelope) comes over HTTPS from its API.
    let report = Command::new(env!("CARGO_BIN_EXE_medic"))
        .args(["report", "weekly", "--format", "html", "--config"])
        .arg(&config)
        .arg("--ca-file")
        .arg(&ca)
        .env_remove("MEDIC_CONFIG_PATH")
        .env("MEDIC_API_KEY", KEY)
        .output()
        .expect("medic report runs");
    let page = String::from_utf8_lossy(&report.stdout);
    assert!(
        report.status.success() && page.contains("<html"),
        "{page}{}",
        String::from_utf8_lossy(&report.stderr)
    );

    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(medic.id().to_string())
        .status();
    let exited = medic.wait().expect("wait");
    assert!(exited.success(), "graceful stop; log:\n{}", show_log());
}
