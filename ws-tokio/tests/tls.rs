//! wss:// with a certificate generated at test time.
#![cfg(feature = "rustls")]

mod support;

use std::sync::Arc;
use std::time::Duration;

use ws_testkit::certs::SelfSigned;
use ws_tokio::{CloseCode, ConnectOptions, Error, Message, ServerOptions, connect};

#[tokio::test]
async fn wss_echo_with_a_self_signed_certificate() {
    tokio::time::timeout(Duration::from_secs(20), async {
        let certs = SelfSigned::localhost("ws-tokio-tls");
        let server_tls =
            ws_tokio::tls::server_config_from_pem(&certs.cert_path, &certs.key_path).unwrap();

        let options = ServerOptions {
            tls: Some(server_tls),
            ..ServerOptions::default()
        };
        let (addr, _stop) = support::echo_server(options).await;
        let port = addr.port();

        let trusting = ConnectOptions {
            tls: Some(certs.client_config()),
            ..ConnectOptions::default()
        };
        let url = format!("wss://localhost:{port}/secure");
        let mut ws = connect(&url, trusting).await.unwrap();
        ws.send("over TLS").await.unwrap();
        assert_eq!(
            ws.recv_message().await.unwrap(),
            Some(Message::from("over TLS"))
        );
        ws.close(CloseCode::NORMAL, "").await.unwrap();

        // The default configuration does not trust a self-signed certificate.
        let err = connect(&url, ConnectOptions::default()).await.unwrap_err();
        assert!(matches!(err, Error::Io(_)), "{err:?}");
    })
    .await
    .unwrap();
}

/// The handshake timeout bounds the TLS and HTTP handshakes together: a client that
/// spends most of it on TLS does not get it again for its HTTP request.
#[tokio::test]
async fn the_handshake_timeout_covers_tls_and_the_request_together() {
    let certs = SelfSigned::localhost("ws-tokio-tls-timeout");
    let server_tls =
        ws_tokio::tls::server_config_from_pem(&certs.cert_path, &certs.key_path).unwrap();

    let limit = Duration::from_secs(2);
    let (errors_tx, mut errors) = tokio::sync::mpsc::unbounded_channel();
    let options = ServerOptions {
        tls: Some(server_tls),
        handshake_timeout: limit,
        on_error: Arc::new(move |e| {
            let _ = errors_tx.send(e);
        }),
        ..ServerOptions::default()
    };
    let (addr, _stop) = support::echo_server(options).await;

    let client_tls = certs.client_config();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    // 60 % of the limit before TLS, 60 % again before the request: each phase alone
    // fits in the limit, the two together do not.
    tokio::time::sleep(limit * 6 / 10).await;
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(client_tls)
        .connect(name, tcp)
        .await
        .unwrap();
    tokio::time::sleep(limit * 6 / 10).await;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let request = format!(
        "GET / HTTP/1.1\r\nHost: localhost:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        addr.port()
    );
    // The server may already have dropped the connection: a failed write is fine.
    let _ = tls.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut answer)).await;
    assert!(
        !answer.starts_with(b"HTTP/1.1 101"),
        "upgraded after {:?} of handshakes: {}",
        limit * 12 / 10,
        String::from_utf8_lossy(&answer)
    );
    let error = tokio::time::timeout(Duration::from_secs(5), errors.recv())
        .await
        .expect("the server reported the failed handshake")
        .unwrap();
    assert!(matches!(error, Error::HandshakeTimeout), "{error:?}");
}
