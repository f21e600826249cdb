//! wss:// with a certificate generated at test time.
#![cfg(feature = "rustls")]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use ws_blocking::rustls::{AlertDescription, ServerConnection, StreamOwned};
use ws_blocking::{
    CloseCode, ConnectOptions, Error, MaybeTlsStream, Message, ServerOptions, Transport, connect,
};
use ws_testkit::certs::SelfSigned;

#[test]
fn wss_echo_with_a_self_signed_certificate() {
    let certs = SelfSigned::localhost("ws-blocking-tls");
    let server_tls =
        ws_blocking::tls::server_config_from_pem(&certs.cert_path, &certs.key_path).unwrap();

    let tls_options = || ServerOptions {
        tls: Some(server_tls.clone()),
        ..ServerOptions::default()
    };
    let server = support::echo_server(tls_options());
    let port = server.addr.port();

    let client_tls = certs.client_config();
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

    // Split, on both sides: one thread writes while another reads, over one TLS
    // session. The client's writer sends more than the socket buffers hold before its
    // reader takes the echoes, so both halves use the session at once; the server
    // pings every tenth message, so the client's reader answers while its writer is
    // blocked on a full socket (the reader's writes wait 1 ms, then are left for
    // later), and the server's reader and writer run on two threads too.
    let split_server = support::serve(tls_options(), |ws| {
        let (mut reader, mut writer) = ws.split().unwrap();
        let (echo_tx, echoes) = std::sync::mpsc::channel::<Message>();
        let echoing = std::thread::spawn(move || {
            for (i, message) in echoes.into_iter().enumerate() {
                if i % 10 == 0 && writer.ping(&b"are you there"[..]).is_err() {
                    break;
                }
                if writer.send(message).is_err() {
                    break;
                }
            }
        });
        while let Ok(Some(message)) = reader.recv_message() {
            if echo_tx.send(message).is_err() {
                break;
            }
        }
        drop(echo_tx);
        echoing.join().unwrap();
    });
    let port = split_server.addr.port();
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

/// A client TLS session split in two, and the thread of its peer: a rustls server
/// that reads the client's "hello" and then runs `then` on its stream.
fn split_client_against(
    name: &str,
    then: impl FnOnce(&mut StreamOwned<ServerConnection, TcpStream>) + Send + 'static,
) -> (MaybeTlsStream, MaybeTlsStream, std::thread::JoinHandle<()>) {
    let certs = SelfSigned::localhost(name);
    let server_config = certs.server_config();
    let client_config = certs.client_config();

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let conn = ServerConnection::new(server_config).unwrap();
        let mut tls = StreamOwned::new(conn, sock);
        let mut hello = [0u8; 5];
        tls.read_exact(&mut hello).unwrap();
        then(&mut tls);
    });

    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let name = "localhost".try_into().unwrap();
    let conn = rustls::ClientConnection::new(client_config, name).unwrap();
    let mut tls = StreamOwned::new(conn, sock);
    tls.write_all(b"hello").unwrap();
    tls.flush().unwrap();
    let (writer, reader) = MaybeTlsStream::ClientTls(Box::new(tls))
        .into_pair()
        .unwrap();
    (writer, reader, peer)
}

/// A split TLS socket reads to the end of a peer's stream however it ends: bytes sent
/// after a close_notify are dropped (the session takes nothing more, and the read
/// must not go round for ever offering them), and the read answers the end.
#[test]
fn a_split_tls_socket_ends_at_close_notify_despite_trailing_bytes() {
    let (_writer, mut reader, peer) = split_client_against("ws-blocking-tls-trailing", |tls| {
        tls.write_all(b"bye").unwrap();
        tls.conn.send_close_notify();
        tls.flush().unwrap();
        // Then bytes that are not TLS at all, in the same stream.
        tls.sock.write_all(&[0x17; 300]).unwrap();
        tls.sock.flush().unwrap();
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        match reader.read(&mut buf).unwrap() {
            0 => break,
            n => got.extend_from_slice(&buf[..n]),
        }
    }
    assert_eq!(got, b"bye");
    peer.join().unwrap();
}

/// A split TLS socket that reads a record its session refuses (here one whose
/// authentication fails) tells the peer why with the session's fatal alert, as
/// rustls's own stream does, instead of only dropping the connection.
#[test]
fn a_split_tls_socket_sends_the_alert_for_a_record_it_refuses() {
    let (writer, mut reader, peer) = split_client_against("ws-blocking-tls-alert", |tls| {
        // An application-data record of the right form whose contents no key made.
        let mut forged = vec![0x17, 0x03, 0x03, 0x00, 0x20];
        forged.extend_from_slice(&[0x5a; 0x20]);
        tls.sock.write_all(&forged).unwrap();
        let mut buf = [0u8; 16];
        let error = tls.read(&mut buf).unwrap_err();
        let got = error
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>())
            .cloned();
        assert_eq!(
            got,
            Some(rustls::Error::AlertReceived(AlertDescription::BadRecordMac)),
            "{error}"
        );
    });
    let mut buf = [0u8; 64];
    let error = reader.read(&mut buf).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    // Both halves stay open until the peer has read what came.
    peer.join().unwrap();
    drop((writer, reader));
}
