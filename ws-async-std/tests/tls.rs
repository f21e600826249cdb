//! wss:// with a certificate generated at test time, on async-std and on smol.
#![cfg(feature = "rustls")]

#[macro_use]
mod support;

use std::sync::Arc;
use std::time::Duration;

use support::{Runtime, limit};
use ws_async_std::rustls::{ClientConfig, RootCertStore};
use ws_async_std::{CloseCode, ConnectOptions, Error, Message, ServerOptions, connect};

on_both_runtimes!(wss_echo_with_a_self_signed_certificate);

async fn wss_echo_with_a_self_signed_certificate(rt: Runtime) {
    limit(Duration::from_secs(20), async {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let dir =
            std::env::temp_dir().join(format!("ws-async-std-tls-{}-{rt:?}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert_path, certified.cert.pem()).unwrap();
        std::fs::write(&key_path, certified.key_pair.serialize_pem()).unwrap();
        let server_tls = ws_async_std::tls::server_config_from_pem(&cert_path, &key_path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();

        let options = ServerOptions {
            tls: Some(server_tls),
            ..ServerOptions::default()
        };
        let (addr, _stop) = support::echo_server(rt, options).await;
        let port = addr.port();

        let mut roots = RootCertStore::empty();
        roots.add(certified.cert.der().clone()).unwrap();
        let trusting = ConnectOptions {
            tls: Some(Arc::new(
                ClientConfig::builder()
                    .with_root_certificates(roots)
                    .with_no_client_auth(),
            )),
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
