//! A small command-line client: sends each line typed as a text message, prints what
//! arrives; Ctrl-D closes the connection cleanly.
//!
//! ```sh
//! cargo run -p ws-blocking --example blocking_wscat -- ws://HOST:PORT/path
//! cargo run -p ws-blocking --example blocking_wscat -- --insecure wss://localhost:9001/
//! ```
//!
//! `--insecure` accepts any server certificate (a self-signed one in development):
//! never in production.
//!
//! A thread reads the terminal; the main thread owns the socket and waits for it with
//! `recv_timeout`, so that the same loop serves `ws://` and `wss://` (a TLS socket
//! cannot be split across threads).

use std::io::BufRead;
use std::sync::mpsc::{self, TryRecvError};
use std::time::Duration;

use ws_blocking::{CloseCode, ConnectOptions, Error, Event, Message, connect};

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let insecure = args.iter().any(|a| a == "--insecure");
    let Some(url) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: blocking_wscat [--insecure] ws[s]://HOST:PORT/path");
        std::process::exit(2);
    };
    let options = ConnectOptions {
        tls: insecure.then(insecure::client_config),
        ..ConnectOptions::default()
    };
    let mut ws = connect(url, options)?;
    eprintln!("connected to {url} (Ctrl-D to close)");
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut stdin_open = true;
    loop {
        while stdin_open {
            match lines.try_recv() {
                Ok(line) => ws.send(line)?,
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    stdin_open = false;
                    ws.send_close(CloseCode::NORMAL, "")?;
                }
            }
        }
        match ws.recv_timeout(Duration::from_millis(50)) {
            Ok(Some(Event::Message(Message::Text(text)))) => println!("< {text}"),
            Ok(Some(Event::Message(Message::Binary(data)))) => {
                println!(
                    "< [{} bytes of binary] {:02x?}",
                    data.len(),
                    &data[..data.len().min(32)]
                );
            }
            Ok(Some(Event::Closed(reason))) => eprintln!("closed: {reason:?}"),
            Ok(Some(_)) | Err(Error::RecvTimeout) => {}
            Ok(None) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A TLS client configuration that accepts any certificate, for `--insecure`.
mod insecure {
    use std::sync::Arc;

    use ws_blocking::rustls::client::danger::{
        HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
    };
    use ws_blocking::rustls::crypto::{
        CryptoProvider, ring, verify_tls12_signature, verify_tls13_signature,
    };
    use ws_blocking::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use ws_blocking::rustls::{ClientConfig, DigitallySignedStruct, Error, SignatureScheme};

    /// Checks the handshake signatures (so the session is still keyed to the
    /// certificate presented) but not who issued the certificate.
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

    pub(crate) fn client_config() -> Arc<ClientConfig> {
        let verifier = Arc::new(AnyCertificate(ring::default_provider()));
        Arc::new(
            ClientConfig::builder()
                .dangerous()
                .with_custom_certificate_verifier(verifier)
                .with_no_client_auth(),
        )
    }
}
