//! wss:// with a certificate generated at test time, on async-std and on smol.
#![cfg(feature = "rustls")]

#[macro_use]
mod support;

use std::sync::Arc;
use std::time::Duration;

use support::{Runtime, limit};
use ws_async_std::{CloseCode, ConnectOptions, Error, Message, ServerOptions, connect};
use ws_testkit::certs::SelfSigned;

on_both_runtimes!(
    wss_echo_with_a_self_signed_certificate,
    the_handshake_timeout_covers_tls_and_the_request_together,
);

async fn wss_echo_with_a_self_signed_certificate(rt: Runtime) {
    limit(Duration::from_secs(20), async {
        let certs = SelfSigned::localhost(&format!("ws-async-std-tls-{rt:?}"));
        let server_tls =
            ws_async_std::tls::server_config_from_pem(&certs.cert_path, &certs.key_path).unwrap();

        let options = ServerOptions {
            tls: Some(server_tls),
            ..ServerOptions::default()
        };
        let (addr, _stop) = support::echo_server(rt, options).await;
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
        // A large message: vectored writes through the TLS stream.
        let big = Message::Binary(vec![3u8; 1 << 20].into());
        ws.send(big.clone()).await.unwrap();
        assert_eq!(ws.recv_message().await.unwrap(), Some(big));
        ws.close(CloseCode::NORMAL, "").await.unwrap();

        // The default configuration does not trust a self-signed certificate.
        let err = connect(&url, ConnectOptions::default()).await.unwrap_err();
        assert!(matches!(err, Error::Io(_)), "{err:?}");
    })
    .await;
}

/// The handshake timeout bounds the TLS and HTTP handshakes together: a client that
/// spends most of it on TLS does not get it again for its HTTP request.
async fn the_handshake_timeout_covers_tls_and_the_request_together(rt: Runtime) {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};

    limit(Duration::from_secs(20), async {
        let certs = SelfSigned::localhost(&format!("ws-async-std-tls-timeout-{rt:?}"));
        let server_tls =
            ws_async_std::tls::server_config_from_pem(&certs.cert_path, &certs.key_path).unwrap();

        let limit = Duration::from_secs(2);
        let (errors_tx, errors) = std::sync::mpsc::channel();
        let errors_tx = std::sync::Mutex::new(errors_tx);
        let options = ServerOptions {
            tls: Some(server_tls),
            handshake_timeout: limit,
            on_error: Arc::new(move |e| {
                let _ = errors_tx.lock().unwrap().send(e);
            }),
            ..ServerOptions::default()
        };
        let (addr, _stop) = support::echo_server(rt, options).await;

        let client_tls = certs.client_config();
        let tcp = async_net::TcpStream::connect(addr).await.unwrap();
        // 60 % of the limit before TLS, 60 % again before the request: each phase alone
        // fits in the limit, the two together do not.
        async_io::Timer::after(limit * 6 / 10).await;
        let name = futures_rustls::rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = futures_rustls::TlsConnector::from(client_tls)
            .connect(name, tcp)
            .await
            .unwrap();
        async_io::Timer::after(limit * 6 / 10).await;
        let request = format!(
            "GET / HTTP/1.1\r\nHost: localhost:{}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n",
            addr.port()
        );
        // The server may already have dropped the connection: a failed write is fine.
        let _ = tls.write_all(request.as_bytes()).await;
        let mut answer = Vec::new();
        let _ = support::timeout(Duration::from_secs(5), tls.read_to_end(&mut answer)).await;
        assert!(
            !answer.starts_with(b"HTTP/1.1 101"),
            "upgraded after {:?} of handshakes: {}",
            limit * 12 / 10,
            String::from_utf8_lossy(&answer)
        );
        let error = errors
            .recv_timeout(Duration::from_secs(5))
            .expect("the server reported the failed handshake");
        assert!(matches!(error, Error::HandshakeTimeout), "{error:?}");
    })
    .await;
}
