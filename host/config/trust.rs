//! Who may sign plugins (`plugins.trust`): public keys, ECDSA P-256 in PEM
//! (`-----BEGIN PUBLIC KEY-----`), as `cosign generate-key-pair`,
//! `openssl ec -pubout` and `medic plugin keygen` write them. The config
//! check reads them with the same function the plugin host uses, so a key
//! that passes the check is one the host can verify with.

use std::path::Path;

use base64::Engine as _;
use p256::ecdsa::VerifyingKey;
use p256::pkcs8::{DecodePublicKey, EncodePublicKey};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is not an ECDSA P-256 public key in PEM (-----BEGIN PUBLIC KEY-----, as \
         `cosign generate-key-pair`, `openssl ec -pubout` or `medic plugin keygen` write it): {problem}"
    )]
    NotAKey { path: String, problem: String },
}

/// A public key from a PEM file.
pub fn read_public_key(path: &Path) -> Result<VerifyingKey, KeyError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: shown.clone(),
        source,
    })?;
    parse_public_key(&text).map_err(|problem| KeyError::NotAKey {
        path: shown,
        problem,
    })
}

/// A public key from PEM text.
pub fn parse_public_key(pem: &str) -> Result<VerifyingKey, String> {
    VerifyingKey::from_public_key_pem(pem.trim()).map_err(|e| e.to_string())
}

/// A key's fingerprint: the sha256 of its DER encoding
/// (SubjectPublicKeyInfo), in standard base64 — the `hint` a Sigstore
/// bundle carries for the key that signed it.
pub fn fingerprint(key: &VerifyingKey) -> String {
    match key.to_public_key_der() {
        Ok(der) => base64::engine::general_purpose::STANDARD.encode(Sha256::digest(der.as_bytes())),
        // Encoding a valid P-256 point cannot fail; say so rather than panic.
        Err(e) => format!("(no fingerprint: {e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A P-256 public key made by `openssl ecparam -name prime256v1 -genkey`
    // then `openssl ec -pubout`.
    const OPENSSL_PUB: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2BhQ3Fih88FWeRvKdT/X1aN0pchg
mGuQpjZicK5EZyLsedkxyirYrOdRUf2NqNpwdmpx3EQ7CVxS/4R4c8HL4Q==
-----END PUBLIC KEY-----
";

    #[test]
    fn an_openssl_public_key_is_read_and_has_a_stable_fingerprint() {
        let key = parse_public_key(OPENSSL_PUB).expect("parses");
        let again = parse_public_key(OPENSSL_PUB).expect("parses");
        assert_eq!(fingerprint(&key), fingerprint(&again));
        assert_eq!(fingerprint(&key).len(), 44, "base64 of 32 bytes");
    }

    #[test]
    fn a_file_that_is_not_a_key_is_refused_with_its_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k.pub");
        std::fs::write(
            &path,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        let e = read_public_key(&path).expect_err("refused");
        let text = e.to_string();
        assert!(text.contains("k.pub"), "{text}");
        assert!(text.contains("ECDSA P-256 public key"), "{text}");
        let missing = read_public_key(&dir.path().join("none.pub")).expect_err("refused");
        assert!(matches!(missing, KeyError::Read { .. }), "{missing}");
    }
}
