//! Client and server of this crate against each other on loopback: what the shared
//! server suite (tests/server_suite.rs) does not cover — the client side, the split
//! socket, timers in blocking mode, the connection limit.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{echo_server, serve, url};
use ws_blocking::ws_proto;
use ws_blocking::{
    CloseCode, CloseReason, Config, ConnectOptions, Error, Event, KeepAlive, Message,
    ResponseError, ServerOptions, connect,
};

fn client(server: &support::Server) -> ws_blocking::WebSocket<ws_blocking::MaybeTlsStream> {
    connect(&url(server), ConnectOptions::default()).unwrap()
}

#[test]
fn echo_of_text_and_binary_from_0_bytes_to_16_mib() {
    let server = echo_server(ServerOptions::default());
    let mut ws = client(&server);
    for size in [0, 1, 125, 126, 65_535, 65_536, 1 << 20, 16 << 20] {
        let text = "é".repeat(size / 2);
        ws.send(text.as_str()).unwrap();
        assert_eq!(ws.recv_message().unwrap(), Some(Message::Text(text.into())));
        let binary = vec![(size % 251) as u8; size];
        ws.send(binary.clone()).unwrap();
        assert_eq!(
            ws.recv_message().unwrap(),
            Some(Message::Binary(binary.into()))
        );
    }
    ws.close(CloseCode::NORMAL, "").unwrap();
    assert!(ws.recv().unwrap().is_none());
}

#[test]
fn the_events_iterator_ends_after_the_close() {
    let server = serve(ServerOptions::default(), |mut ws| {
        ws.send("one").unwrap();
        ws.send("two").unwrap();
        ws.close(CloseCode::GOING_AWAY, "bye").unwrap();
    });
    let mut ws = client(&server);
    let events: Vec<Event> = ws.events().map(Result::unwrap).collect();
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events[0], Event::Message(Message::Text("one".into())));
    assert!(matches!(
        &events[2],
        Event::Closed(CloseReason::Handshake { peer: Some(frame), initiated_locally: false })
            if frame.code == CloseCode::GOING_AWAY
    ));
    assert!(ws.events().next().is_none());
}

#[test]
fn send_multiple_and_queue_deliver_everything_in_order() {
    let server = echo_server(ServerOptions::default());
    let mut ws = client(&server);
    ws.send_multiple((0..100).map(|i| format!("m{i}"))).unwrap();
    for i in 100..200 {
        ws.queue(format!("m{i}")).unwrap();
    }
    ws.flush().unwrap();
    let got: Vec<Message> = ws.messages().take(200).map(Result::unwrap).collect();
    let want: Vec<Message> = (0..200)
        .map(|i| Message::Text(format!("m{i}").into()))
        .collect();
    assert_eq!(got, want);
}

/// One thread writes 32 MiB while the other reads the echo: unsplit, the writer would
/// block forever once both directions' buffers are full.
#[test]
fn split_halves_write_and_read_at_once_without_deadlock() {
    let server = echo_server(ServerOptions::default());
    let ws = client(&server);
    let (mut reader, mut writer) = ws.split().unwrap();
    let count = 32;
    let chunk = vec![7u8; 1 << 20];
    let reading = std::thread::spawn(move || {
        let mut got = 0;
        while got < count {
            match reader.recv_message().unwrap() {
                Some(Message::Binary(data)) => {
                    assert_eq!(data.len(), 1 << 20);
                    got += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        // The rest of the closing handshake.
        let rest: Vec<_> = reader.by_ref().collect();
        assert!(
            matches!(rest.last(), Some(Ok(Event::Closed(_)))),
            "{rest:?}"
        );
    });
    for _ in 0..count {
        writer.send(chunk.clone()).unwrap();
    }
    writer.send_close(CloseCode::NORMAL, "").unwrap();
    reading.join().unwrap();
}

/// The reader alone answers the server's pings (the writer is idle).
#[test]
fn the_reader_half_answers_pings() {
    let (pongs_tx, pongs) = mpsc::channel();
    let server = serve(ServerOptions::default(), move |mut ws| {
        for i in 0..5u8 {
            ws.ping(vec![i]).unwrap();
            loop {
                match ws.recv().unwrap() {
                    Some(Event::Pong(payload)) => {
                        pongs_tx.send(payload.to_vec()).unwrap();
                        break;
                    }
                    Some(_) => {}
                    None => return,
                }
            }
        }
        ws.close(CloseCode::NORMAL, "").unwrap();
    });
    let ws = client(&server);
    let (reader, _writer) = ws.split().unwrap();
    let events: Vec<_> = reader.map(Result::unwrap).collect();
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::Ping(_)))
            .count(),
        5
    );
    let got: Vec<Vec<u8>> = pongs.try_iter().collect();
    assert_eq!(got, (0..5u8).map(|i| vec![i]).collect::<Vec<_>>());
}

/// A peer that goes silent after the handshake: the keepalive pings it, then gives
/// up with a typed timeout, all while the client is blocked in `recv`.
#[test]
fn keepalive_closes_a_silent_peer_while_recv_blocks() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let silent = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.ends_with(b"\r\n\r\n") {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0);
            request.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8(request).unwrap();
        let key = text
            .lines()
            .find_map(|l| {
                l.strip_prefix("Sec-WebSocket-Key: ")
                    .or_else(|| l.strip_prefix("sec-websocket-key: "))
            })
            .unwrap()
            .trim()
            .to_owned();
        let accept = ws_proto::handshake::accept_key(key.as_bytes());
        write!(
            stream,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        )
        .unwrap();
        // Read (and ignore) whatever comes until the client gives up.
        while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
    });
    let options = ConnectOptions {
        config: Config {
            keepalive: Some(KeepAlive {
                interval: Duration::from_millis(200),
                timeout: Duration::from_millis(200),
            }),
            ..Config::default()
        },
        ..ConnectOptions::default()
    };
    let mut ws = connect(&format!("ws://{addr}/"), options).unwrap();
    let started = Instant::now();
    let events: Vec<Event> = ws.events().map(Result::unwrap).collect();
    assert!(
        matches!(
            events.last(),
            Some(Event::Closed(CloseReason::KeepAliveTimeout))
        ),
        "{events:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(ws);
    silent.join().unwrap();
}

#[test]
fn recv_timeout_gives_up_and_loses_nothing() {
    let (go_tx, go) = mpsc::channel::<()>();
    let go = std::sync::Mutex::new(go);
    let server = serve(ServerOptions::default(), move |mut ws| {
        go.lock().unwrap().recv().unwrap();
        ws.send("late").unwrap();
        ws.close(CloseCode::NORMAL, "").unwrap();
    });
    let mut ws = client(&server);
    assert!(matches!(
        ws.recv_timeout(Duration::from_millis(100)),
        Err(Error::RecvTimeout)
    ));
    go_tx.send(()).unwrap();
    assert_eq!(
        ws.recv_timeout(Duration::from_secs(10)).unwrap(),
        Some(Event::Message(Message::Text("late".into())))
    );
}

#[test]
fn a_full_server_answers_503_and_serves_again_once_a_slot_frees() {
    let options = ServerOptions {
        max_connections: 1,
        ..ServerOptions::default()
    };
    let server = echo_server(options);
    let mut first = client(&server);
    first.send("hi").unwrap();
    assert!(first.recv_message().unwrap().is_some());
    match connect(&url(&server), ConnectOptions::default()) {
        Err(Error::Response(ResponseError::Rejected(rejection))) => {
            assert_eq!(rejection.status, 503);
        }
        other => panic!("expected a 503, got {other:?}"),
    }
    first.close(CloseCode::NORMAL, "").unwrap();
    drop(first);
    // The slot frees when the connection's thread ends.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match connect(&url(&server), ConnectOptions::default()) {
            Ok(_) => break,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("still refused: {e}"),
        }
    }
}

#[test]
fn stop_returns_from_the_accept_loop_and_closes_with_1001() {
    let server = echo_server(ServerOptions::default());
    let mut ws = client(&server);
    ws.send("before").unwrap();
    assert!(ws.recv_message().unwrap().is_some());
    let stopped = std::thread::spawn(move || server.stop_and_join());
    let events: Vec<Event> = ws.events().map(Result::unwrap).collect();
    assert!(
        matches!(
            events.last(),
            Some(Event::Closed(CloseReason::Handshake { peer: Some(f), .. })) if f.code == CloseCode::GOING_AWAY
        ),
        "{events:?}"
    );
    stopped.join().unwrap().unwrap();
}

/// After two seconds without traffic, both ends hold no buffer memory; the first
/// bytes after that give the reader a full read buffer back.
#[test]
fn an_idle_connection_gives_its_buffers_back() {
    let (capacity_tx, capacity) = mpsc::channel();
    let server = serve(ServerOptions::default(), move |mut ws| {
        ws.send(vec![0u8; 100_000]).unwrap();
        // Idle, blocked in recv, for longer than the release period; then again once
        // the client has spoken; then until the client is gone.
        for _ in 0..5 {
            let report = match ws.recv_timeout(Duration::from_millis(2600)) {
                Err(Error::RecvTimeout) | Ok(Some(Event::Message(_))) => {
                    capacity_tx.send(ws.connection().buffer_capacity())
                }
                Ok(Some(_)) => Ok(()),
                Ok(None) | Err(_) => break,
            };
            if report.is_err() {
                break;
            }
        }
    });
    let mut ws = client(&server);
    assert!(ws.recv_message().unwrap().is_some());
    assert!(ws.connection().buffer_capacity() > 0);
    assert!(matches!(
        ws.recv_timeout(Duration::from_millis(2600)),
        Err(Error::RecvTimeout)
    ));
    assert_eq!(ws.connection().buffer_capacity(), 0);
    let wait = Duration::from_secs(5);
    assert_eq!(capacity.recv_timeout(wait).unwrap(), 0, "the server's side");
    // The connection is busy again: the server reads into a buffer with room for
    // the next read, not one sized to this message.
    ws.send("x").unwrap();
    let busy = capacity.recv_timeout(wait).unwrap();
    assert!(busy >= 16 * 1024 - 16, "{busy}");
    drop(capacity);
}

#[test]
fn a_raw_socket_request_and_peer_address_reach_the_handler() {
    let (seen_tx, seen) = mpsc::channel();
    let server = serve(ServerOptions::default(), move |ws| {
        let request = ws.http_request().unwrap();
        seen_tx
            .send((request.uri().path().to_owned(), ws.peer_addr()))
            .unwrap();
    });
    let ws = connect(
        &format!("ws://{}/chat?room=1", server.addr),
        ConnectOptions::default(),
    )
    .unwrap();
    let (path, peer) = seen.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(path, "/chat");
    assert_eq!(peer, ws.get_ref().tcp().local_addr().ok());
    drop(TcpStream::connect(server.addr));
}
