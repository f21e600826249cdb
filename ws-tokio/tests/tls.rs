//! wss:// with a certificate generated at test time.
#![cfg(feature = "rustls")]

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use ws_tokio::rustls::{ClientConfig, RootCertStore};
use ws_tokio::{
    CloseCode, ConnectOptions, Error, Message, ServerOptions, connect, establish_standard_server,
};

#[tokio::test]
async fn wss_echo_with_a_self_signed_certificate() {
    tokio::time::timeout(Duration::from_secs(20), async {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let dir = std::env::temp_dir().join(format!("ws-tokio-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert_path, certified.cert.pem()).unwrap();
        std::fs::write(&key_path, certified.key_pair.serialize_pem()).unwrap();
        let server_tls = ws_tokio::tls::server_config_from_pem(&cert_path, &key_path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let options = ServerOptions {
            tls: Some(server_tls),
            ..ServerOptions::default()
        };
        tokio::spawn(establish_standard_server(
            listener,
            options,
            std::future::pending(),
            |mut ws| async move {
                while let Ok(Some(m)) = ws.recv_message().await {
                    if ws.send(m).await.is_err() {
                        break;
                    }
                }
            },
        ));

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
        ws.close(CloseCode::NORMAL, "").await.unwrap();

        // The default configuration does not trust a self-signed certificate.
        let err = connect(&url, ConnectOptions::default()).await.unwrap_err();
        assert!(matches!(err, Error::Io(_)), "{err:?}");
    })
    .await
    .unwrap();
}
