//! A self-signed certificate for `localhost`, generated at test time, for the
//! adapters' TLS tests: as PEM files (what their `tls::server_config_from_pem` reads)
//! and as the client configuration that trusts it.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// A certificate and its key; the PEM files go when it is dropped.
#[derive(Debug)]
pub struct SelfSigned {
    /// The certificate, DER.
    pub cert: CertificateDer<'static>,
    /// The PEM certificate file.
    pub cert_path: PathBuf,
    /// The PEM private key file.
    pub key_path: PathBuf,
    key_der: Vec<u8>,
    dir: PathBuf,
}

impl SelfSigned {
    /// A new certificate for `localhost`; `tag` keeps the files of concurrent tests
    /// apart.
    pub fn localhost(tag: &str) -> Self {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()])
            .expect("a self-signed certificate");
        let dir = std::env::temp_dir().join(format!("ws-testkit-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert_path, certified.cert.pem()).expect("the certificate file");
        std::fs::write(&key_path, certified.key_pair.serialize_pem()).expect("the key file");
        Self {
            cert: certified.cert.der().clone(),
            cert_path,
            key_path,
            key_der: certified.key_pair.serialize_der(),
            dir,
        }
    }

    /// A client configuration that trusts this certificate (and nothing else).
    pub fn client_config(&self) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.cert.clone()).expect("a valid certificate");
        Arc::new(
            ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }

    /// A server configuration with this certificate, built here rather than from the
    /// PEM files, for a TLS peer written by hand.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        let key = PrivateKeyDer::try_from(self.key_der.clone()).expect("a private key");
        Arc::new(
            ServerConfig::builder()
                .with_no_client_auth()
                .with_single_cert(vec![self.cert.clone()], key)
                .expect("a certificate and its key"),
        )
    }
}

impl Drop for SelfSigned {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
