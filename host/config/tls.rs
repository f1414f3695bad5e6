//! The HTTP API's TLS identity: the PEM certificate chain and private key
//! that `interfaces.web.tls` names, made into a rustls server config. The
//! config check reads them up front with the same functions `medic serve`
//! uses, so a file that passes the check is one the server can use.

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Which setting a [`TlsError`] is about, so it can be reported by path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsField {
    CertFile,
    KeyFile,
}

impl TlsField {
    /// The key under `interfaces.web.tls`.
    pub fn key(self) -> &'static str {
        match self {
            TlsField::CertFile => "cert_file",
            TlsField::KeyFile => "key_file",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        field: TlsField,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not PEM: {source}")]
    Pem {
        field: TlsField,
        path: String,
        #[source]
        source: pem::Error,
    },
    #[error("{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate { path: String },
    #[error("{path} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")]
    NoKey { path: String },
    #[error(
        "the certificate in {cert_path} and the key in {key_path} cannot be used together: {source}"
    )]
    Unusable {
        cert_path: String,
        key_path: String,
        #[source]
        source: rustls::Error,
    },
}

impl TlsError {
    /// The setting to blame: a key that does not fit its certificate is
    /// reported on `key_file`.
    pub fn field(&self) -> TlsField {
        match self {
            TlsError::Read { field, .. } | TlsError::Pem { field, .. } => *field,
            TlsError::NoCertificate { .. } => TlsField::CertFile,
            TlsError::NoKey { .. } | TlsError::Unusable { .. } => TlsField::KeyFile,
        }
    }
}

fn read(field: TlsField, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        field,
        path: path.display().to_string(),
        source,
    })
}

/// Every certificate in a PEM file, in order (the server's own first).
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(TlsField::CertFile, path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Pem {
            field: TlsField::CertFile,
            path: path.display().to_string(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.display().to_string(),
        });
    }
    Ok(certs)
}

/// The first private key in a PEM file.
pub fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(TlsField::KeyFile, path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|source| match source {
        pem::Error::NoItemsFound => TlsError::NoKey {
            path: path.display().to_string(),
        },
        source => TlsError::Pem {
            field: TlsField::KeyFile,
            path: path.display().to_string(),
            source,
        },
    })
}

/// A server config for the API: ring (the provider already built in for
/// the clients), TLS 1.2 and 1.3, HTTP/1.1 by ALPN (the API speaks only it).
pub fn server_config(cert_file: &Path, key_file: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = read_certificates(cert_file)?;
    let key = read_private_key(key_file)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let unusable = |source| TlsError::Unusable {
        cert_path: cert_file.display().to_string(),
        key_path: key_file.display().to_string(),
        source,
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(unusable)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(unusable)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    #[test]
    fn missing_files_and_non_pem_are_reported_on_their_field() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope.pem");
        let e = server_config(&missing, &missing).expect_err("missing");
        assert_eq!(e.field(), TlsField::CertFile);
        assert!(e.to_string().contains("nope.pem"), "{e}");

        let junk = write(dir.path(), "junk.pem", "not a certificate\n");
        let e = read_certificates(&junk).expect_err("junk cert");
        assert!(matches!(e, TlsError::NoCertificate { .. }), "{e}");
        let e = read_private_key(&junk).expect_err("junk key");
        assert!(matches!(e, TlsError::NoKey { .. }), "{e}");
        assert_eq!(e.field(), TlsField::KeyFile);

        let broken = write(
            dir.path(),
            "broken.pem",
            "-----BEGIN CERTIFICATE-----\nAAAA\n",
        );
        let e = read_certificates(&broken).expect_err("unterminated");
        assert!(matches!(e, TlsError::Pem { .. }), "{e}");
    }
}
