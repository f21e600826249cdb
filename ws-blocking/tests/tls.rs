//! wss:// with a certificate generated at test time.
#![cfg(feature = "rustls")]

mod support;

use std::sync::Arc;

use ws_blocking::rustls::{ClientConfig, RootCertStore};
use ws_blocking::{CloseCode, ConnectOptions, Error, Message, ServerOptions, connect};

#[test]
fn wss_echo_with_a_self_signed_certificate() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let dir = std::env::temp_dir().join(format!("ws-blocking-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, certified.cert.pem()).unwrap();
    std::fs::write(&key_path, certified.key_pair.serialize_pem()).unwrap();
    let server_tls = ws_blocking::tls::server_config_from_pem(&cert_path, &key_path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    let options = ServerOptions {
        tls: Some(server_tls),
        ..ServerOptions::default()
    };
    let server = support::echo_server(options);
    let port = server.addr.port();

    let mut roots = RootCertStore::empty();
    roots.add(certified.cert.der().clone()).unwrap();
    let client_tls = Arc::new(
        ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let trusting = || ConnectOptions {
        tls: Some(client_tls.clone()),
        ..ConnectOptions::default()
    };
    let mut ws = connect(&format!("wss://localhost:{port}/"), trusting()).unwrap();
    for size in [0, 10, 70_000, 1 << 20] {
        let payload = vec![3u8; size];
        ws.send(payload.clone()).unwrap();
        assert_eq!(
            ws.recv_message().unwrap(),
            Some(Message::Binary(payload.into()))
        );
    }
    ws.close(CloseCode::NORMAL, "").unwrap();

    // Split: one thread writes while another reads, over one TLS session. The writer
    // sends more than the socket buffers hold before the reader takes the echoes, so
    // both halves use the session at the same time.
    let ws = connect(&format!("wss://localhost:{port}/"), trusting()).unwrap();
    let (mut reader, mut writer) = ws.split().unwrap();
    let sizes: Vec<usize> = (0..200)
        .map(|i| [3, 1000, 40_000, 200_000][i % 4])
        .collect();
    let sent = sizes.clone();
    let writing = std::thread::spawn(move || {
        for (i, size) in sent.into_iter().enumerate() {
            writer.send(vec![i as u8; size]).unwrap();
        }
        writer
    });
    for (i, size) in sizes.iter().enumerate() {
        let Some(Message::Binary(echo)) = reader.recv_message().unwrap() else {
            panic!("message {i} did not come back");
        };
        assert_eq!(echo.len(), *size, "message {i}");
        assert!(echo.iter().all(|&b| b == i as u8), "message {i}");
    }
    let mut writer = writing.join().unwrap();
    writer.send_close(CloseCode::NORMAL, "done").unwrap();
    assert_eq!(reader.recv_message().unwrap(), None);

    // The default configuration does not trust a self-signed certificate.
    let refused = connect(
        &format!("wss://localhost:{port}/"),
        ConnectOptions::default(),
    );
    assert!(matches!(refused, Err(Error::Io(_))), "{refused:?}");
}
