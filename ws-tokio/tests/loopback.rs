//! Client and server over loopback TCP, through the public API. Every test is bounded
//! in time.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::time::timeout;
use ws_tokio::ws_proto::handshake::ClientOptions;
use ws_tokio::ws_proto::{Connection, Rejection, ResponseError, Role};
use ws_tokio::{
    CloseCode, CloseFrame, CloseReason, Config, ConnectOptions, Error, Event, Message, Parts,
    ServerOptions, WebSocket, connect,
};

mod support;

use support::{echo_server, serve};

const LIMIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn echo_of_text_and_binary_from_0_bytes_to_16_mib() {
    timeout(LIMIT, async {
        let (addr, _stop) = echo_server(ServerOptions::default()).await;
        let mut ws = connect(&format!("ws://{addr}/echo"), ConnectOptions::default())
            .await
            .unwrap();
        for size in [0, 1, 125, 126, 65_536, 1 << 20, 16 << 20] {
            let binary = Message::Binary(vec![0xa5; size].into());
            let text = Message::from("é".repeat(size / 2));
            // One at a time: a client that writes megabytes without reading while the
            // server echoes would fill both socket buffers (split halves avoid that).
            ws.send(binary.clone()).await.unwrap();
            assert_eq!(
                ws.recv_message().await.unwrap(),
                Some(binary),
                "size {size}"
            );
            ws.send(text.clone()).await.unwrap();
            assert_eq!(ws.recv_message().await.unwrap(), Some(text), "size {size}");
        }
        ws.close(CloseCode::NORMAL, "done").await.unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_foreign_origin_is_refused_with_403() {
    timeout(LIMIT, async {
        let (addr, _stop) = echo_server(ServerOptions::default()).await;
        let options = ConnectOptions {
            handshake: ClientOptions {
                origin: Some("https://evil.example".into()),
                ..ClientOptions::default()
            },
            ..ConnectOptions::default()
        };
        let err = connect(&format!("ws://{addr}/"), options)
            .await
            .unwrap_err();
        let Error::Response(ResponseError::Rejected(rejection)) = err else {
            panic!("{err:?}");
        };
        let Rejection { status, .. } = *rejection;
        assert_eq!(status, 403);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_wrong_version_gets_426_naming_13() {
    timeout(LIMIT, async {
        let (addr, _stop) = echo_server(ServerOptions::default()).await;
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n"
        );
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 426 "), "{answer}");
        assert!(
            answer
                .to_ascii_lowercase()
                .contains("sec-websocket-version: 13\r\n")
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_client_that_never_finishes_its_handshake_is_dropped() {
    timeout(LIMIT, async {
        let options = ServerOptions {
            handshake_timeout: Duration::from_millis(200),
            ..ServerOptions::default()
        };
        let (addr, _stop) = echo_server(options).await;
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let mut rest = Vec::new();
        // The server closes the connection without an answer.
        let n = tcp.read_to_end(&mut rest).await.unwrap_or(0);
        assert_eq!(n, 0);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn stop_closes_live_connections_with_1001() {
    timeout(LIMIT, async {
        let (addr, stop) = echo_server(ServerOptions::default()).await;
        let mut ws = connect(&format!("ws://{addr}/"), ConnectOptions::default())
            .await
            .unwrap();
        ws.send("before stop").await.unwrap();
        assert_eq!(
            ws.recv_message().await.unwrap(),
            Some(Message::from("before stop"))
        );
        stop.send(()).unwrap();
        let event = ws.recv().await.unwrap();
        let Some(Event::Closed(CloseReason::Handshake {
            peer: Some(frame), ..
        })) = event
        else {
            panic!("{event:?}");
        };
        assert_eq!(frame.code, CloseCode::GOING_AWAY);
        assert_eq!(ws.recv().await.unwrap(), None);
        // Nothing listens any more.
        assert!(TcpStream::connect(addr).await.is_err());
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn the_server_sees_the_clients_close_code_and_reason() {
    timeout(LIMIT, async {
        let (seen_tx, seen_rx) = oneshot::channel();
        let seen_tx = std::sync::Mutex::new(Some(seen_tx));
        let (addr, _stop) = serve(ServerOptions::default(), move |mut ws| {
            let seen_tx = seen_tx.lock().unwrap().take();
            async move {
                let peer = ws.peer_addr();
                let path = ws.http_request().map(|r| r.uri().path().to_owned());
                let mut last = None;
                while let Ok(Some(event)) = ws.recv().await {
                    last = Some(event);
                }
                if let Some(tx) = seen_tx {
                    let _ = tx.send((peer, path, last));
                }
            }
        })
        .await;
        let mut ws = connect(&format!("ws://{addr}/room/1"), ConnectOptions::default())
            .await
            .unwrap();
        ws.close(CloseCode(4000), "bye now").await.unwrap();
        let (peer, path, last) = seen_rx.await.unwrap();
        assert!(peer.is_some_and(|p| p.ip().is_loopback()));
        assert_eq!(path.as_deref(), Some("/room/1"));
        assert_eq!(
            last,
            Some(Event::Closed(CloseReason::Handshake {
                peer: Some(CloseFrame::new(CloseCode(4000), "bye now")),
                initiated_locally: false,
            }))
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn recv_is_cancel_safe() {
    timeout(LIMIT, async {
        let (addr, _stop) = echo_server(ServerOptions::default()).await;
        let mut ws = connect(&format!("ws://{addr}/"), ConnectOptions::default())
            .await
            .unwrap();
        let count = 200;
        ws.send_multiple((0..count).map(|i| format!("m{i}")))
            .await
            .unwrap();
        // Interrupt recv over and over; no message may be lost or duplicated.
        let mut got = Vec::new();
        while got.len() < count {
            tokio::select! {
                message = ws.recv_message() => got.push(message.unwrap().unwrap()),
                () = tokio::task::yield_now() => {}
            }
        }
        let want: Vec<Message> = (0..count).map(|i| Message::from(format!("m{i}"))).collect();
        assert_eq!(got, want);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_clients() {
    timeout(Duration::from_secs(60), async {
        let (addr, _stop) = echo_server(ServerOptions::default()).await;
        let clients = 500;
        // Every client is connected before any of them talks.
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(clients));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..clients {
            let barrier = barrier.clone();
            tasks.spawn(async move {
                let mut ws = connect(&format!("ws://{addr}/"), ConnectOptions::default())
                    .await
                    .unwrap();
                barrier.wait().await;
                let text = format!("client {i}");
                ws.send(text.as_str()).await.unwrap();
                assert_eq!(ws.recv_message().await.unwrap(), Some(Message::from(text)));
                ws.close(CloseCode::NORMAL, "").await.unwrap();
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn send_close_still_delivers_what_the_peer_sent_before_its_close() {
    timeout(LIMIT, async {
        let (addr, _stop) = echo_server(ServerOptions::default()).await;
        let mut ws = connect(&format!("ws://{addr}/"), ConnectOptions::default())
            .await
            .unwrap();
        ws.send_multiple(["one", "two", "three"]).await.unwrap();
        ws.send_close(CloseCode::NORMAL, "enough").await.unwrap();
        let mut events = Vec::new();
        while let Some(event) = ws.recv().await.unwrap() {
            events.push(event);
        }
        assert_eq!(events.len(), 4, "{events:?}");
        assert_eq!(
            events[..3],
            ["one", "two", "three"].map(|t| Event::Message(t.into()))
        );
        assert!(matches!(
            events[3],
            Event::Closed(CloseReason::Handshake {
                initiated_locally: true,
                ..
            })
        ));
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn fragmented_messages_both_ways() {
    timeout(LIMIT, async {
        // The server fragments what it sends into 1000-byte frames, the client into 7.
        let server_config = Config {
            fragment_size: Some(1000),
            ..Config::default()
        };
        let (addr, _stop) = echo_server(ServerOptions {
            config: server_config,
            ..ServerOptions::default()
        })
        .await;
        let options = ConnectOptions {
            config: Config {
                fragment_size: Some(7),
                ..Config::default()
            },
            read_size: 100,
            ..ConnectOptions::default()
        };
        let mut ws = connect(&format!("ws://{addr}/"), options).await.unwrap();
        let text = Message::from("fragmenté ".repeat(2000));
        ws.send(text.clone()).await.unwrap();
        assert_eq!(ws.recv_message().await.unwrap(), Some(text));
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn the_client_sees_the_servers_close_code_and_reason() {
    timeout(LIMIT, async {
        let (addr, _stop) = serve(ServerOptions::default(), |mut ws| async move {
            ws.send("last words").await.unwrap();
            ws.close(CloseCode(4001), "server says bye").await.unwrap();
        })
        .await;
        let mut ws = connect(&format!("ws://{addr}/"), ConnectOptions::default())
            .await
            .unwrap();
        assert_eq!(
            ws.recv().await.unwrap(),
            Some(Event::Message("last words".into()))
        );
        assert_eq!(
            ws.recv().await.unwrap(),
            Some(Event::Closed(CloseReason::Handshake {
                peer: Some(CloseFrame::new(CloseCode(4001), "server says bye")),
                initiated_locally: false,
            }))
        );
        assert_eq!(ws.recv().await.unwrap(), None);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn an_oversized_request_gets_its_431_before_the_connection_closes() {
    timeout(LIMIT, async {
        let (addr, _stop) = echo_server(ServerOptions::default()).await;
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let mut request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\n").into_bytes();
        for i in 0..400 {
            request.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "v".repeat(60)).as_bytes());
        }
        // The server refuses after 16 KiB, while more of the request is still coming.
        let _ = tcp.write_all(&request).await;
        let mut answer = Vec::new();
        let _ = tcp.read_to_end(&mut answer).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn close_after_the_peer_closed_is_not_an_error() {
    timeout(LIMIT, async {
        let (addr, _stop) = serve(ServerOptions::default(), |mut ws| async move {
            ws.close(CloseCode::NORMAL, "").await.unwrap();
        })
        .await;
        let mut ws = connect(&format!("ws://{addr}/"), ConnectOptions::default())
            .await
            .unwrap();
        assert!(matches!(ws.recv().await.unwrap(), Some(Event::Closed(_))));
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    })
    .await
    .unwrap();
}

/// Answers queued with `queue` while a burst of pipelined messages is handled all
/// arrive, in order, and they go out without an explicit flush.
#[tokio::test]
async fn queued_answers_to_a_pipelined_burst_all_arrive_in_order() {
    let (addr, _stop) = serve(ServerOptions::default(), |mut ws| async move {
        while let Ok(Some(message)) = ws.recv_message().await {
            if ws.queue(message).await.is_err() {
                break;
            }
        }
    })
    .await;
    let client = connect(&format!("ws://{addr}/"), ConnectOptions::default())
        .await
        .unwrap();
    // Megabytes each way: the client writes and reads from two tasks, or both ends
    // would wait for the other to read.
    let (mut reader, mut writer) = client.split();
    let sizes = [0usize, 1, 125, 126, 5000, 70_000, 200_000];
    let messages: Vec<Message> = (0..300)
        .map(|i| Message::Binary(vec![i as u8; sizes[i % sizes.len()]].into()))
        .collect();
    let burst = messages.clone();
    tokio::spawn(async move { writer.send_multiple(burst).await.unwrap() });
    for expected in &messages {
        let got = timeout(Duration::from_secs(10), reader.recv_message())
            .await
            .expect("the echoes came")
            .unwrap()
            .unwrap();
        assert_eq!(&got, expected);
    }
}

/// `queue` waits once 128 KiB are waiting for a peer that does not read, instead of
/// growing its queue.
#[tokio::test]
async fn queue_waits_for_a_peer_that_does_not_read() {
    let (ours, _theirs) = tokio::io::duplex(4096);
    let conn = Connection::new(
        Role::Server,
        Config::default(),
        tokio::time::Instant::now().into_std(),
    );
    let mut ws = WebSocket::from_parts(ours, conn, &[], Parts::default());
    let mut queued = 0usize;
    let outcome = timeout(Duration::from_millis(300), async {
        loop {
            ws.queue(Message::Binary(vec![0u8; 10_000].into()))
                .await
                .unwrap();
            queued += 1;
        }
    })
    .await;
    assert!(outcome.is_err(), "queue never waited");
    // 128 KiB of 10 kB messages, plus the one that tipped it over.
    assert!(
        (13..=15).contains(&queued),
        "queued {queued} before waiting"
    );
}

/// A busy connection keeps its buffers (no allocation per message); one that has moved
/// no bytes for two to four seconds gives their memory back, and still works afterwards.
#[tokio::test(start_paused = true)]
async fn an_idle_connection_gives_its_buffers_back() {
    let (ours, mut theirs) = tokio::io::duplex(1 << 20);
    let conn = Connection::new(
        Role::Server,
        Config::default(),
        tokio::time::Instant::now().into_std(),
    );
    let mut ws = WebSocket::from_parts(ours, conn, &[], Parts::default());
    let mut frame = Vec::new();
    ws_tokio::Frame::binary(vec![7u8; 1000]).encode(Some([1, 2, 3, 4]), &mut frame);
    theirs.write_all(&frame).await.unwrap();
    let got = ws.recv_message().await.unwrap().unwrap();
    assert_eq!(got.as_bytes().len(), 1000);
    drop(got);
    assert!(ws.connection().buffer_capacity() > 0);
    // Nothing moves for five seconds (virtual time): the read took no clock reading,
    // and counts as traffic when the idle check first fires, two seconds in.
    assert!(timeout(Duration::from_secs(5), ws.recv()).await.is_err());
    assert_eq!(ws.connection().buffer_capacity(), 0);
    // And the next message still arrives.
    theirs.write_all(&frame).await.unwrap();
    let got = ws.recv_message().await.unwrap().unwrap();
    assert_eq!(got.as_bytes().len(), 1000);
}
