//! What the adapters' example programs share: the command line of the echo servers
//! and the `--insecure` TLS setting of the wscat clients. Written once so that the
//! examples of the three adapters stay the same program on three runtimes.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, ring, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, Error, SignatureScheme};

/// The echo servers' command line: `[ADDR] [--tls-cert PEM --tls-key PEM]
/// [--subprotocols a,b]`.
#[derive(Debug, Clone)]
pub struct EchoArgs {
    /// Where to listen; 127.0.0.1:9001 by default.
    pub addr: String,
    /// The protocols the server may select, in its order of preference.
    pub subprotocols: Vec<String>,
    /// A PEM certificate chain and a PEM private key: serve `wss://`.
    pub tls: Option<(String, String)>,
}

impl EchoArgs {
    /// Reads the process's arguments; exits with a usage message on a bad command line.
    pub fn parse() -> Self {
        Self::from_args(std::env::args().skip(1)).unwrap_or_else(|usage| {
            eprintln!("{usage}");
            std::process::exit(2);
        })
    }

    /// Reads `args` (without the program name).
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut parsed = Self {
            addr: "127.0.0.1:9001".into(),
            subprotocols: Vec::new(),
            tls: None,
        };
        let (mut cert, mut key) = (None, None);
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--subprotocols" => {
                    let list = args.next().unwrap_or_default();
                    parsed.subprotocols = list.split(',').map(str::to_owned).collect();
                }
                "--tls-cert" => cert = args.next(),
                "--tls-key" => key = args.next(),
                flag if flag.starts_with("--") => return Err(format!("unknown flag {flag}")),
                _ => parsed.addr = arg,
            }
        }
        parsed.tls = match (cert, key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => return Err("--tls-cert and --tls-key go together".into()),
        };
        Ok(parsed)
    }

    /// A subprotocol selector for the servers' options: the first protocol the client
    /// offers that is in the list.
    pub fn select_subprotocol(&self) -> impl Fn(&[&str]) -> Option<String> + Send + Sync + 'static {
        let ours = self.subprotocols.clone();
        move |offered| {
            offered
                .iter()
                .find(|p| ours.iter().any(|q| q == *p))
                .map(|p| (*p).to_owned())
        }
    }
}

/// The wscat clients' `--insecure` flag and their URL, from the process's arguments;
/// exits with a usage message when the URL is missing.
pub fn wscat_args(program: &str) -> (bool, String) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let insecure = args.iter().any(|a| a == "--insecure");
    match args.into_iter().find(|a| !a.starts_with("--")) {
        Some(url) => (insecure, url),
        None => {
            eprintln!("usage: {program} [--insecure] ws[s]://HOST:PORT/path");
            std::process::exit(2);
        }
    }
}

/// A TLS client configuration that accepts any server certificate, for `--insecure`
/// in development (a self-signed certificate): never in production.
pub fn insecure_client_config() -> Arc<ClientConfig> {
    let verifier = Arc::new(AnyCertificate(ring::default_provider()));
    Arc::new(
        ClientConfig::builder()
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth(),
    )
}

/// Checks the handshake signatures (so the session is still keyed to the certificate
/// presented) but not who issued the certificate.
#[derive(Debug)]
struct AnyCertificate(CryptoProvider);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Result<EchoArgs, String> {
        EchoArgs::from_args(line.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn the_echo_command_line() {
        let plain = args("").unwrap();
        assert_eq!(plain.addr, "127.0.0.1:9001");
        assert!(plain.tls.is_none() && plain.subprotocols.is_empty());

        let full = args("0.0.0.0:80 --tls-cert c.pem --tls-key k.pem --subprotocols a,b").unwrap();
        assert_eq!(full.addr, "0.0.0.0:80");
        assert_eq!(full.tls, Some(("c.pem".into(), "k.pem".into())));
        let select = full.select_subprotocol();
        assert_eq!(select(&["x", "b", "a"]), Some("b".into()));
        assert_eq!(select(&["x"]), None);

        assert!(args("--tls-cert c.pem").is_err());
        assert!(args("--bogus").is_err());
    }

    #[test]
    fn the_insecure_configuration_builds() {
        let config = insecure_client_config();
        assert!(config.alpn_protocols.is_empty());
    }
}
