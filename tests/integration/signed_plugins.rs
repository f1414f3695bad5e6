//! Signed plugins, with real key pairs and real plugin files in a watched
//! directory: a plugin signed by a trusted key loads; one altered after
//! signing, one signed by another key and one with no signature are each
//! refused with their own error while the good one keeps serving; a
//! signature that arrives after its file lets the file load.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use medic::config::Config;
use medic::config::raw::TrustedKey;
use medic::plugin::signature::{self, Signer, SigningKey};
use medic::plugin::{Registry, reload};

use crate::support::*;

/// A key pair made the way an operator would (`medic plugin keygen`): the
/// signing key, and the public key's file in `dir`.
fn key_pair(dir: &Path, name: &str) -> (SigningKey, PathBuf) {
    let (private, public) = signature::generate().unwrap();
    let path = dir.join(format!("{name}.pub"));
    std::fs::write(&path, public).unwrap();
    let private_path = dir.join(format!("{name}.key"));
    std::fs::write(&private_path, private).unwrap();
    (signature::read_signing_key(&private_path).unwrap(), path)
}

/// Installs `bytes` as `name` with its bundle (if signed) put in first.
fn install(dir: &Path, name: &str, bytes: &[u8], bundle: Option<String>) {
    let target = dir.join(name);
    if let Some(b) = bundle {
        let tmp = dir.join(format!(".{name}.bundle"));
        std::fs::write(&tmp, b).unwrap();
        std::fs::rename(&tmp, signature::bundle_path(&target)).unwrap();
    }
    let tmp = dir.join(format!(".{name}.partial"));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, &target).unwrap();
}

fn bundle(key: &SigningKey, bytes: &[u8]) -> String {
    signature::sign(key, bytes).unwrap().0
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn trusting(plugins: &Path, key: &Path) -> Config {
    let mut config = config_with(|p| {
        p.watch = true;
        p.trust.require_signature = true;
        p.trust.keys = vec![TrustedKey {
            name: "secops".into(),
            public_key_file: key.to_path_buf(),
        }];
    });
    config.medic.plugins.directory = Some(plugins.to_path_buf());
    if let Some(b) = config.constitution.plugins.get_mut("default") {
        b.strategy.name = "swap-test".into();
    }
    config
}

fn rejections(registry: &Registry) -> Vec<String> {
    registry
        .events()
        .into_iter()
        .filter(|e| e.outcome == "rejected")
        .map(|e| e.message)
        .collect()
}

#[test]
fn a_signed_plugin_loads_and_each_bad_signature_is_refused_while_it_keeps_serving() {
    let keys = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (trusted, trusted_pub) = key_pair(keys.path(), "secops");
    let (stranger, _) = key_pair(keys.path(), "stranger");
    let v1 = wasm_bytes("swap-v1");
    let v2 = wasm_bytes("swap-v2");
    install(dir.path(), "swap.wasm", &v1, Some(bundle(&trusted, &v1)));

    let registry = Arc::new(Registry::new(&trusting(dir.path(), &trusted_pub)).unwrap());
    let _watch = reload::watch(&registry).unwrap().expect("a directory");
    assert_eq!(registry.active().strategy.info().version, "1.0.0");
    let row = registry
        .list()
        .into_iter()
        .find(|r| r.name == "swap-test")
        .unwrap();
    assert!(
        matches!(&row.signer, Signer::Key { name, .. } if name == "secops"),
        "{:?}",
        row.signer
    );
    let builtin = registry
        .list()
        .into_iter()
        .find(|r| r.name == "conservative")
        .unwrap();
    assert_eq!(builtin.signer, Signer::Builtin);

    // Signed by a key that is not trusted.
    install(dir.path(), "swap.wasm", &v2, Some(bundle(&stranger, &v2)));
    wait_for("the stranger's plugin to be refused", || {
        refused_for(&registry, "signed by a key that is not trusted")
    });
    assert_eq!(registry.active().strategy.info().version, "1.0.0");

    // One byte changed after the trusted key signed it: the bundle is of
    // bytes one byte away from the file's (bytes never on disk, so no
    // interleaving of the watcher's reads can pair them with the file).
    let mut signed = v2.clone();
    let last = signed.len() - 1;
    signed[last] ^= 1;
    install(dir.path(), "swap.wasm", &v2, None);
    put_bundle(dir.path(), "swap.wasm", &bundle(&trusted, &signed));
    wait_for("the altered plugin to be refused", || {
        refused_for(&registry, "altered after it was signed")
    });
    assert_eq!(registry.active().strategy.info().version, "1.0.0");

    // No signature at all.
    std::fs::remove_file(signature::bundle_path(&dir.path().join("swap.wasm"))).unwrap();
    install(dir.path(), "swap.wasm", &v2, None);
    wait_for("the unsigned plugin to be refused", || {
        refused_for(&registry, "no signature")
    });
    assert_eq!(registry.active().strategy.info().version, "1.0.0");
    assert!(
        !refused_for(&registry, "does not verify"),
        "{:?}",
        rejections(&registry)
    );

    // Its signature arrives after it: the file loads.
    put_bundle(dir.path(), "swap.wasm", &bundle(&trusted, &v2));
    wait_for("version 2 to serve once signed", || {
        registry.active().strategy.info().version == "2.0.0"
    });
}

fn put_bundle(dir: &Path, name: &str, bundle: &str) {
    let tmp = dir.join(format!(".{name}.late"));
    std::fs::write(&tmp, bundle).unwrap();
    std::fs::rename(&tmp, signature::bundle_path(&dir.join(name))).unwrap();
}

fn refused_for(registry: &Registry, why: &str) -> bool {
    rejections(registry).iter().any(|m| m.contains(why))
}

#[test]
fn an_unsigned_file_stops_the_start_and_plugin_list_shows_why() {
    let keys = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_, trusted_pub) = key_pair(keys.path(), "secops");
    install(dir.path(), "swap.wasm", &wasm_bytes("swap-v1"), None);
    let config = trusting(dir.path(), &trusted_pub);
    let e = Registry::new(&config).err().expect("refused at start");
    assert!(e.to_string().contains("no signature"), "{e}");
    // What `medic plugin list` builds: the file is listed as refused, with
    // the reason, and the built-ins serve.
    let inspected = Registry::inspect(&config).unwrap();
    assert_eq!(rejections(&inspected).len(), 1);
    assert!(rejections(&inspected)[0].contains("require_signature is on"));
    assert!(inspected.list().iter().all(|r| r.name != "swap-test"));
}

#[test]
fn without_trust_configured_plugins_load_unsigned() {
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), "swap.wasm", &wasm_bytes("swap-v1"), None);
    let mut config = config_with(|p| p.watch = false);
    config.medic.plugins.directory = Some(dir.path().to_path_buf());
    let registry = Registry::new(&config).unwrap();
    let row = registry
        .list()
        .into_iter()
        .find(|r| r.name == "swap-test")
        .unwrap();
    assert_eq!(row.signer, Signer::Unsigned);
}

/// What `medic serve` does with reload events: each one, a refusal
/// included, is audited with its reason.
#[tokio::test]
async fn a_refused_plugin_file_is_audited_with_its_reason() {
    let keys = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = tempfile::tempdir().unwrap();
    let (_, trusted_pub) = key_pair(keys.path(), "secops");
    let mut config = trusting(dir.path(), &trusted_pub);
    config.constitution.plugins.remove("default");
    let registry = Arc::new(Registry::new(&config).unwrap());
    let store = medic::store::Store::open(&db.path().join("medic.db")).unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let auditor = tokio::spawn(medic::commands::serve::audit_reloads(
        registry.subscribe().1,
        store.clone(),
        stop.clone(),
    ));
    install(dir.path(), "swap.wasm", &wasm_bytes("swap-v1"), None);
    let path = dir.path().join("swap.wasm");
    let loading = registry.clone();
    let refused = tokio::task::spawn_blocking(move || loading.load_file(&path))
        .await
        .unwrap();
    assert!(refused.is_err());
    let deadline = Instant::now() + Duration::from_secs(10);
    let audited = loop {
        let events = store.audit_events(None, 100).unwrap();
        if let Some(e) = events
            .into_iter()
            .find(|e| e.details["event"]["outcome"] == "rejected")
        {
            break e;
        }
        assert!(Instant::now() < deadline, "the refusal was not audited");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(audited.actor, "plugin-directory");
    assert!(
        audited.details["event"]["message"]
            .as_str()
            .unwrap()
            .contains("no signature"),
        "{}",
        audited.details
    );
    stop.cancel();
    auditor.await.unwrap();
}

/// The sigstore npm package, pinned: Sigstore's own verifier.
const SIGSTORE_JS: &str = "sigstore@3.1.0";

/// Interoperability with Sigstore's tools: a bundle `medic plugin sign`
/// writes is verified by Sigstore's own JavaScript verifier, which refuses
/// it once a byte of the file changes. The verifier is installed with npm
/// into the target directory the first time (Node.js and npm are needed).
#[test]
fn sigstore_verifies_a_medic_bundle() {
    use std::process::Command;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let tools = target.join("test-tools/sigstore-js");
    if !tools.join("node_modules/sigstore/package.json").exists() {
        std::fs::create_dir_all(&tools).unwrap();
        let out = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&tools)
            .arg(SIGSTORE_JS)
            .output()
            .expect("npm must be installed (apt-get install nodejs npm)");
        assert!(
            out.status.success(),
            "npm install {SIGSTORE_JS} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = key_pair(dir.path(), "secops");
    let file = dir.path().join("p.wasm");
    let bytes = wasm_bytes("swap-v1");
    std::fs::write(&file, &bytes).unwrap();
    std::fs::write(signature::bundle_path(&file), bundle(&key, &bytes)).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sigstore/verify.js");
    let verify = || {
        Command::new("node")
            .arg(&script)
            .arg(&file)
            .arg(signature::bundle_path(&file))
            .arg(&public)
            .env("NODE_PATH", tools.join("node_modules"))
            .output()
            .expect("node must be installed (apt-get install nodejs)")
    };
    let out = verify();
    assert!(
        out.status.success(),
        "sigstore-js refused Medic's bundle: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut changed = bytes.clone();
    changed[0] ^= 1;
    std::fs::write(&file, &changed).unwrap();
    let out = verify();
    assert!(
        !out.status.success(),
        "sigstore-js accepted an altered file"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("SIGNATURE_ERROR"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
