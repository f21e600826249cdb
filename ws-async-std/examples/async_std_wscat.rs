//! A small command-line client on async-std: sends each line typed as a text message,
//! prints what arrives; Ctrl-D closes the connection cleanly.
//!
//! ```sh
//! cargo run -p ws-async-std --example async_std_wscat -- ws://HOST:PORT/path
//! cargo run -p ws-async-std --example async_std_wscat -- --insecure wss://localhost:9001/
//! ```
//!
//! `--insecure` accepts any server certificate (a self-signed one in development):
//! never in production.

use async_std::io::BufReadExt;
use futures_lite::StreamExt;
use futures_lite::future::or;
use ws_async_std::{CloseCode, ConnectOptions, Event, Message, connect};

/// What woke the loop up.
enum Input {
    Line(Option<std::io::Result<String>>),
    Event(Result<Option<Event>, ws_async_std::Error>),
}

#[async_std::main]
async fn main() -> Result<(), ws_async_std::Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let insecure = args.iter().any(|a| a == "--insecure");
    let Some(url) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: async_std_wscat [--insecure] ws[s]://HOST:PORT/path");
        std::process::exit(2);
    };
    let options = ConnectOptions {
        tls: insecure.then(insecure::client_config),
        ..ConnectOptions::default()
    };
    let mut ws = connect(url, options).await?;
    eprintln!("connected to {url} (Ctrl-D to close)");
    let mut lines = async_std::io::BufReader::new(async_std::io::stdin()).lines();
    let mut stdin_open = true;
    loop {
        // Both futures are cancel safe: the one that loses the race loses nothing (the
        // line reader keeps a partial line in `lines`, the socket in `ws`).
        let next_line = async {
            if stdin_open {
                Input::Line(lines.next().await)
            } else {
                std::future::pending().await
            }
        };
        let input = or(next_line, async { Input::Event(ws.recv().await) }).await;
        match input {
            Input::Line(Some(line)) => ws.send(line?).await?,
            Input::Line(None) => {
                stdin_open = false;
                ws.send_close(CloseCode::NORMAL, "").await?;
            }
            Input::Event(event) => match event? {
                Some(Event::Message(Message::Text(text))) => println!("< {text}"),
                Some(Event::Message(Message::Binary(data))) => {
                    println!(
                        "< [{} bytes of binary] {:02x?}",
                        data.len(),
                        &data[..data.len().min(32)]
                    );
                }
                Some(Event::Closed(reason)) => eprintln!("closed: {reason:?}"),
                Some(_) => {}
                None => break,
            },
        }
    }
    Ok(())
}

/// A TLS client configuration that accepts any certificate, for `--insecure`.
mod insecure {
    use std::sync::Arc;

    use ws_async_std::rustls::client::danger::{
        HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
    };
    use ws_async_std::rustls::crypto::{
        CryptoProvider, ring, verify_tls12_signature, verify_tls13_signature,
    };
    use ws_async_std::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use ws_async_std::rustls::{ClientConfig, DigitallySignedStruct, Error, SignatureScheme};

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
