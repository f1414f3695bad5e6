//! Signed plugins: who signed a plugin file, checked before it is compiled.
//!
//! A signature is ECDSA P-256 over the file's SHA-256, in one of two
//! layouts beside the file, both Sigstore's (`cosign sign-blob` writes
//! either; docs/plugins.md, "Shipping a plugin to production"):
//!
//! - `FILE.wasm.sigstore.json`: a Sigstore bundle (v0.3, a message
//!   signature): the file's digest, the signature, and a hint naming the
//!   key (the base64 sha256 of its DER encoding). What `medic plugin sign`
//!   writes. Because it names both what was signed and who signed it, a
//!   file altered after signing and a file signed by an untrusted key are
//!   told apart.
//! - `FILE.wasm.sig`: the signature alone, base64 of its DER encoding
//!   (cosign's `--output-signature`, or `openssl dgst -sha256 -sign`).
//!
//! Trust is the keys of `plugins.trust.keys`. Transparency-log entries in a
//! bundle are not checked: trust comes from the keys alone.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use p256::ecdsa::Signature;
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
pub use p256::ecdsa::{SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::raw::TrustSection;
use crate::config::trust::{KeyError, fingerprint, read_public_key};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The media type of the bundles this module reads and writes.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// Who signed a plugin, as far as trust goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Signer {
    /// Part of the binary.
    Builtin,
    /// Verified against a trusted key.
    Key { name: String, fingerprint: String },
    /// No signature beside the file, and none required.
    Unsigned,
}

impl std::fmt::Display for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signer::Builtin => f.write_str("built in"),
            Signer::Key { name, fingerprint } => write!(f, "signed by {name} ({fingerprint})"),
            Signer::Unsigned => f.write_str("unsigned"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error(
        "{file}: no signature ({} or {}) and plugins.trust.require_signature is on; sign it with \
         `medic plugin sign` or `cosign sign-blob`",
        bundle_path(file).display(), sig_path(file).display()
    )]
    Missing { file: PathBuf },
    #[error("{path}: cannot read the signature: {source}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a signature Medic can read: {problem}")]
    Malformed { path: PathBuf, problem: String },
    #[error(
        "{path}: the plugin was altered after it was signed (signed sha256 {signed}, the file's is {actual})"
    )]
    Altered {
        path: PathBuf,
        signed: String,
        actual: String,
    },
    #[error(
        "{path}: signed by a key that is not trusted (fingerprint {fingerprint}); trusted: {trusted}"
    )]
    UntrustedKey {
        path: PathBuf,
        fingerprint: String,
        trusted: String,
    },
    #[error("{path}: the signature does not verify with key {key}, which its bundle names")]
    Invalid { path: PathBuf, key: String },
    #[error(
        "{path}: the signature verifies with none of the trusted keys ({trusted}): the plugin was altered \
         after signing, or a key that is not trusted signed it"
    )]
    NoKeyVerifies { path: PathBuf, trusted: String },
}

/// A trusted key that cannot be read, by its place in the config.
#[derive(Debug, thiserror::Error)]
#[error("plugins.trust.keys[{index}].public_key_file: {source}")]
pub struct TrustError {
    pub index: usize,
    #[source]
    pub source: KeyError,
}

/// The keys plugins may be signed with, and whether a signature is needed.
#[derive(Clone, Debug, Default)]
pub struct Trust {
    keys: Vec<Trusted>,
    require: bool,
}

#[derive(Clone, Debug)]
struct Trusted {
    name: String,
    key: VerifyingKey,
    fingerprint: String,
}

/// Where a file's Sigstore bundle is looked for.
pub fn bundle_path(file: &Path) -> PathBuf {
    with_suffix(file, ".sigstore.json")
}

/// Where a file's bare signature is looked for.
pub fn sig_path(file: &Path) -> PathBuf {
    with_suffix(file, ".sig")
}

fn with_suffix(file: &Path, suffix: &str) -> PathBuf {
    let mut s = file.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// Where a key pair's public key goes beside its private key (`KEY.pub`).
pub fn with_pub_suffix(private: &Path) -> PathBuf {
    with_suffix(private, ".pub")
}

/// The plugin file a signature file is for (`x.wasm.sig` → `x.wasm`).
pub fn signed_file(path: &Path) -> Option<PathBuf> {
    let s = path.to_str()?;
    let base = s
        .strip_suffix(".sigstore.json")
        .or_else(|| s.strip_suffix(".sig"))?;
    base.ends_with(".wasm").then(|| PathBuf::from(base))
}

/// A Sigstore bundle holding a message signature (the parts Medic reads and
/// writes; other fields, such as transparency-log entries, are ignored).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bundle {
    media_type: String,
    verification_material: VerificationMaterial,
    message_signature: MessageSignature,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerificationMaterial {
    #[serde(default)]
    public_key: Option<PublicKeyHint>,
}

#[derive(Debug, Serialize, Deserialize)]
struct PublicKeyHint {
    #[serde(default)]
    hint: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageSignature {
    message_digest: MessageDigest,
    signature: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct MessageDigest {
    algorithm: String,
    digest: String,
}

/// A signature as read from beside a file.
enum Detached {
    Bundle {
        digest: [u8; 32],
        hint: String,
        signature: Signature,
    },
    Bare(Signature),
}

fn der_signature(path: &Path, b64: &str) -> Result<Signature, SignatureError> {
    let malformed = |problem: String| SignatureError::Malformed {
        path: path.to_path_buf(),
        problem,
    };
    let der = B64
        .decode(b64.trim())
        .map_err(|e| malformed(format!("the signature is not base64: {e}")))?;
    Signature::from_der(&der).map_err(|e| {
        malformed(format!(
            "the signature is not an ECDSA P-256 signature in DER: {e}"
        ))
    })
}

fn parse_bundle(path: &Path, text: &str) -> Result<Detached, SignatureError> {
    let malformed = |problem: String| SignatureError::Malformed {
        path: path.to_path_buf(),
        problem,
    };
    let b: Bundle =
        serde_json::from_str(text).map_err(|e| malformed(format!("not a Sigstore bundle: {e}")))?;
    if !b
        .media_type
        .starts_with("application/vnd.dev.sigstore.bundle")
    {
        return Err(malformed(format!(
            "mediaType {:?} is not a Sigstore bundle's",
            b.media_type
        )));
    }
    let d = &b.message_signature.message_digest;
    if d.algorithm != "SHA2_256" {
        return Err(malformed(format!(
            "messageSignature.messageDigest.algorithm {:?}: only SHA2_256 is supported",
            d.algorithm
        )));
    }
    let digest: [u8; 32] = B64
        .decode(d.digest.trim())
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| {
            malformed("messageSignature.messageDigest.digest is not base64 of 32 bytes".into())
        })?;
    Ok(Detached::Bundle {
        digest,
        hint: b
            .verification_material
            .public_key
            .map(|k| k.hint)
            .unwrap_or_default(),
        signature: der_signature(path, &b.message_signature.signature)?,
    })
}

fn read_detached(file: &Path) -> Result<Option<(PathBuf, Detached)>, SignatureError> {
    for (path, bundle) in [(bundle_path(file), true), (sig_path(file), false)] {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(SignatureError::Unreadable { path, source }),
        };
        let detached = if bundle {
            parse_bundle(&path, &text)?
        } else {
            Detached::Bare(der_signature(&path, &text)?)
        };
        return Ok(Some((path, detached)));
    }
    Ok(None)
}

impl Trust {
    /// The trust `plugins.trust` states (its keys read from their files).
    pub fn from_config(section: &TrustSection) -> Result<Trust, TrustError> {
        let mut keys = Vec::with_capacity(section.keys.len());
        for (index, k) in section.keys.iter().enumerate() {
            let key = read_public_key(Path::new(&k.public_key_file))
                .map_err(|source| TrustError { index, source })?;
            keys.push(Trusted {
                name: k.name.clone(),
                fingerprint: fingerprint(&key),
                key,
            });
        }
        Ok(Trust {
            keys,
            require: section.require_signature,
        })
    }

    /// Trust in `keys` (name, key) alone, a signature required.
    #[cfg(test)]
    pub fn of_keys(keys: Vec<(String, VerifyingKey)>) -> Trust {
        Trust {
            keys: keys
                .into_iter()
                .map(|(name, key)| Trusted {
                    fingerprint: fingerprint(&key),
                    name,
                    key,
                })
                .collect(),
            require: true,
        }
    }

    fn names(&self) -> String {
        if self.keys.is_empty() {
            "none".to_string()
        } else {
            self.keys
                .iter()
                .map(|k| k.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    }

    /// Checks the signature beside `file` (whose contents are `bytes`).
    /// With no keys configured and no signature required, nothing is
    /// checked.
    pub fn check_file(&self, file: &Path, bytes: &[u8]) -> Result<Signer, SignatureError> {
        if self.keys.is_empty() && !self.require {
            return Ok(Signer::Unsigned);
        }
        match read_detached(file)? {
            Some((path, detached)) => self.verify(&path, bytes, detached),
            None if self.require => Err(SignatureError::Missing {
                file: file.to_path_buf(),
            }),
            None => Ok(Signer::Unsigned),
        }
    }

    /// Checks a bare signature (base64 of its DER encoding) sent with the
    /// plugin's bytes rather than read from beside a file; `origin` names
    /// where it came from in errors.
    pub fn check_bare(
        &self,
        origin: &Path,
        bytes: &[u8],
        signature: Option<&str>,
    ) -> Result<Signer, SignatureError> {
        match signature {
            Some(s) => {
                let sig = der_signature(origin, s)?;
                self.verify(origin, bytes, Detached::Bare(sig))
            }
            None if self.require => Err(SignatureError::Missing {
                file: origin.to_path_buf(),
            }),
            None => Ok(Signer::Unsigned),
        }
    }

    fn verify(
        &self,
        path: &Path,
        bytes: &[u8],
        detached: Detached,
    ) -> Result<Signer, SignatureError> {
        let actual: [u8; 32] = Sha256::digest(bytes).into();
        let signer = |k: &Trusted| Signer::Key {
            name: k.name.clone(),
            fingerprint: k.fingerprint.clone(),
        };
        let verifies = |k: &Trusted, sig: &Signature| k.key.verify_prehash(&actual, sig).is_ok();
        match detached {
            Detached::Bundle {
                digest,
                hint,
                signature,
            } => {
                if digest != actual {
                    return Err(SignatureError::Altered {
                        path: path.to_path_buf(),
                        signed: hex::encode(digest),
                        actual: hex::encode(actual),
                    });
                }
                if let Some(k) = self.keys.iter().find(|k| k.fingerprint == hint) {
                    return if verifies(k, &signature) {
                        Ok(signer(k))
                    } else {
                        Err(SignatureError::Invalid {
                            path: path.to_path_buf(),
                            key: k.name.clone(),
                        })
                    };
                }
                // The hint is advisory: a bundle may name its key otherwise.
                match self.keys.iter().find(|k| verifies(k, &signature)) {
                    Some(k) => Ok(signer(k)),
                    None => Err(SignatureError::UntrustedKey {
                        path: path.to_path_buf(),
                        fingerprint: if hint.is_empty() {
                            "not named in the bundle".to_string()
                        } else {
                            hint
                        },
                        trusted: self.names(),
                    }),
                }
            }
            Detached::Bare(signature) => match self.keys.iter().find(|k| verifies(k, &signature)) {
                Some(k) => Ok(signer(k)),
                None => Err(SignatureError::NoKeyVerifies {
                    path: path.to_path_buf(),
                    trusted: self.names(),
                }),
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is an encrypted cosign key, which Medic does not read: sign with `cosign sign-blob \
         --new-bundle-format --bundle FILE.wasm.sigstore.json --key {path} FILE.wasm` instead"
    )]
    EncryptedCosignKey { path: PathBuf },
    #[error(
        "{path} is not an ECDSA P-256 private key in PEM (-----BEGIN PRIVATE KEY----- or \
         -----BEGIN EC PRIVATE KEY-----, as `medic plugin keygen` or `openssl ecparam -name prime256v1 -genkey` write it): {problem}"
    )]
    NotAKey { path: PathBuf, problem: String },
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("cannot encode the key: {0}")]
    Encode(String),
}

/// A private key from a PEM file (PKCS#8 or SEC1).
pub fn read_signing_key(path: &Path) -> Result<SigningKey, SigningError> {
    let text = std::fs::read_to_string(path).map_err(|source| SigningError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if text.contains("ENCRYPTED SIGSTORE PRIVATE KEY") || text.contains("ENCRYPTED COSIGN") {
        return Err(SigningError::EncryptedCosignKey {
            path: path.to_path_buf(),
        });
    }
    let text = text.trim();
    let parsed = if text.contains("-----BEGIN EC PRIVATE KEY-----") {
        p256::SecretKey::from_sec1_pem(text)
            .map(SigningKey::from)
            .map_err(|e| e.to_string())
    } else {
        SigningKey::from_pkcs8_pem(text).map_err(|e| e.to_string())
    };
    parsed.map_err(|problem| SigningError::NotAKey {
        path: path.to_path_buf(),
        problem,
    })
}

/// Signs `bytes`: a Sigstore bundle (JSON) and the bare signature (base64
/// of its DER encoding), both of the same signature.
pub fn sign(key: &SigningKey, bytes: &[u8]) -> Result<(String, String), SigningError> {
    let digest: [u8; 32] = Sha256::digest(bytes).into();
    let signature: Signature = key
        .sign_prehash(&digest)
        .map_err(|e| SigningError::Sign(e.to_string()))?;
    let bare = B64.encode(signature.to_der().as_bytes());
    let bundle = Bundle {
        media_type: BUNDLE_MEDIA_TYPE.to_string(),
        verification_material: VerificationMaterial {
            public_key: Some(PublicKeyHint {
                hint: fingerprint(key.verifying_key()),
            }),
        },
        message_signature: MessageSignature {
            message_digest: MessageDigest {
                algorithm: "SHA2_256".to_string(),
                digest: B64.encode(digest),
            },
            signature: bare.clone(),
        },
    };
    let json =
        serde_json::to_string_pretty(&bundle).map_err(|e| SigningError::Sign(e.to_string()))?;
    Ok((json, bare))
}

/// A new key pair: the private key (PKCS#8 PEM) and the public key (PEM).
pub fn generate() -> Result<(String, String), SigningError> {
    use rand::TryRngCore;
    let key = loop {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| SigningError::Sign(format!("no randomness from the OS: {e}")))?;
        // Out of range (zero, or at least the group order): draw again.
        if let Ok(k) = SigningKey::from_bytes(&bytes.into()) {
            break k;
        }
    };
    let private = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| SigningError::Encode(e.to_string()))?;
    let public = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| SigningError::Encode(e.to_string()))?;
    Ok((private.to_string(), public))
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::pkcs8::DecodePublicKey;

    fn pair() -> (SigningKey, VerifyingKey) {
        let (private, public) = generate().expect("keygen");
        let sk = SigningKey::from_pkcs8_pem(&private).expect("private");
        let vk = VerifyingKey::from_public_key_pem(&public).expect("public");
        assert_eq!(sk.verifying_key(), &vk);
        (sk, vk)
    }

    fn write_signed(dir: &Path, bytes: &[u8], key: &SigningKey) -> PathBuf {
        let file = dir.join("p.wasm");
        std::fs::write(&file, bytes).expect("write");
        let (bundle, _) = sign(key, bytes).expect("sign");
        std::fs::write(bundle_path(&file), bundle).expect("write bundle");
        file
    }

    #[test]
    fn a_bundle_by_a_trusted_key_verifies_and_names_it() {
        let dir = tempfile::tempdir().expect("dir");
        let (sk, vk) = pair();
        let file = write_signed(dir.path(), b"component bytes", &sk);
        let trust = Trust::of_keys(vec![("secops".into(), vk)]);
        let got = trust
            .check_file(&file, b"component bytes")
            .expect("verifies");
        assert!(
            matches!(&got, Signer::Key { name, .. } if name == "secops"),
            "{got:?}"
        );
    }

    #[test]
    fn altered_untrusted_missing_and_forged_are_each_told_apart() {
        let dir = tempfile::tempdir().expect("dir");
        let (sk, vk) = pair();
        let (other, _) = pair();
        let trust = Trust::of_keys(vec![("secops".into(), vk)]);
        let file = write_signed(dir.path(), b"component bytes", &sk);
        let e = trust
            .check_file(&file, b"component bytez")
            .expect_err("altered");
        assert!(matches!(e, SignatureError::Altered { .. }), "{e}");
        assert!(e.to_string().contains("altered after it was signed"), "{e}");

        let file = write_signed(dir.path(), b"component bytes", &other);
        let e = trust
            .check_file(&file, b"component bytes")
            .expect_err("other key");
        assert!(matches!(e, SignatureError::UntrustedKey { .. }), "{e}");
        assert!(e.to_string().contains("trusted: secops"), "{e}");

        // A bundle that names the trusted key but carries another's signature.
        let (bundle, _) = sign(&sk, b"component bytes").expect("sign");
        let (_, forged) = sign(&other, b"component bytes").expect("sign");
        let mut b: serde_json::Value = serde_json::from_str(&bundle).expect("json");
        b["messageSignature"]["signature"] = serde_json::Value::String(forged);
        std::fs::write(bundle_path(&file), b.to_string()).expect("write");
        let e = trust
            .check_file(&file, b"component bytes")
            .expect_err("forged");
        assert!(matches!(e, SignatureError::Invalid { .. }), "{e}");

        std::fs::remove_file(bundle_path(&file)).expect("rm");
        let e = trust
            .check_file(&file, b"component bytes")
            .expect_err("missing");
        assert!(matches!(e, SignatureError::Missing { .. }), "{e}");

        std::fs::write(bundle_path(&file), "{not json").expect("write");
        let e = trust
            .check_file(&file, b"component bytes")
            .expect_err("malformed");
        assert!(matches!(e, SignatureError::Malformed { .. }), "{e}");
    }

    #[test]
    fn a_bare_signature_verifies_and_a_wrong_one_says_so() {
        let dir = tempfile::tempdir().expect("dir");
        let (sk, vk) = pair();
        let trust = Trust::of_keys(vec![("secops".into(), vk)]);
        let file = dir.path().join("p.wasm");
        std::fs::write(&file, b"abc").expect("write");
        let (_, bare) = sign(&sk, b"abc").expect("sign");
        std::fs::write(sig_path(&file), &bare).expect("write");
        assert!(matches!(
            trust.check_file(&file, b"abc"),
            Ok(Signer::Key { .. })
        ));
        let e = trust.check_file(&file, b"abd").expect_err("changed");
        assert!(matches!(e, SignatureError::NoKeyVerifies { .. }), "{e}");
        assert!(matches!(
            trust.check_bare(&file, b"abc", Some(&bare)),
            Ok(Signer::Key { .. })
        ));
        assert!(matches!(
            trust.check_bare(&file, b"abc", None),
            Err(SignatureError::Missing { .. })
        ));
    }

    #[test]
    fn with_no_keys_and_nothing_required_nothing_is_checked() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("p.wasm");
        std::fs::write(sig_path(&file), "garbage").expect("write");
        assert_eq!(
            Trust::default().check_file(&file, b"x").expect("ok"),
            Signer::Unsigned
        );
    }

    #[test]
    fn signature_files_map_back_to_their_plugin() {
        assert_eq!(
            signed_file(Path::new("/d/a.wasm.sig")),
            Some(PathBuf::from("/d/a.wasm"))
        );
        assert_eq!(
            signed_file(Path::new("/d/a.wasm.sigstore.json")),
            Some(PathBuf::from("/d/a.wasm"))
        );
        assert_eq!(signed_file(Path::new("/d/a.sig")), None);
    }

    /// Interoperability with OpenSSL, the tool most teams have: a key and
    /// signature it makes verify here, and a signature made here verifies
    /// with `openssl dgst -verify`.
    #[test]
    fn signatures_interoperate_with_openssl() {
        use std::process::Command;
        let dir = tempfile::tempdir().expect("dir");
        let d = dir.path();
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(d)
                .output()
                .expect("openssl must be installed (apt-get install openssl)");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        };
        std::fs::write(d.join("p.wasm"), b"\0asm component").expect("write");
        run(&[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "k.pem",
        ]);
        run(&["ec", "-in", "k.pem", "-pubout", "-out", "k.pub"]);
        let der = run(&["dgst", "-sha256", "-sign", "k.pem", "p.wasm"]);
        std::fs::write(d.join("p.wasm.sig"), B64.encode(der)).expect("write");
        let vk = read_public_key(&d.join("k.pub")).expect("openssl public key");
        let trust = Trust::of_keys(vec![("openssl".into(), vk)]);
        assert!(matches!(
            trust.check_file(&d.join("p.wasm"), b"\0asm component"),
            Ok(Signer::Key { .. })
        ));
        // The other way: OpenSSL's SEC1 private key signs here, OpenSSL verifies.
        let sk = read_signing_key(&d.join("k.pem")).expect("openssl private key");
        let (_, bare) = sign(&sk, b"\0asm component").expect("sign");
        std::fs::write(d.join("ours.der"), B64.decode(bare).expect("b64")).expect("write");
        let out = run(&[
            "dgst",
            "-sha256",
            "-verify",
            "k.pub",
            "-signature",
            "ours.der",
            "p.wasm",
        ]);
        assert!(String::from_utf8_lossy(&out).contains("Verified OK"));
    }
}
