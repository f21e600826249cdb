//! Client and server over loopback TCP, through the public API, on async-std and on
//! smol. Every test is bounded in time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_lite::future::{or, yield_now};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use ws_async_std::async_net::{TcpListener, TcpStream};
use ws_async_std::ws_proto::handshake::ClientOptions;
use ws_async_std::ws_proto::{Connection, Rejection, ResponseError, Role};
use ws_async_std::{
    CloseCode, CloseFrame, CloseReason, Config, ConnectOptions, Error, Event, Message, Parts,
    ServerOptions, WebSocket, connect, establish_server, establish_standard_server,
};

#[macro_use]
mod support;

use support::{Runtime, echo_server, limit, pipe, serve, timeout};

const LIMIT: Duration = Duration::from_secs(30);

on_both_runtimes!(
    echo_of_text_and_binary_from_0_bytes_to_16_mib,
    a_foreign_origin_is_refused_with_403,
    a_wrong_version_gets_426_naming_13,
    a_client_that_never_finishes_its_handshake_is_dropped,
    stop_closes_live_connections_with_1001,
    stop_grace_drops_connections_that_do_not_close,
    the_server_sees_the_clients_close_code_and_reason,
    recv_is_cancel_safe,
    two_hundred_concurrent_clients,
    send_close_still_delivers_what_the_peer_sent_before_its_close,
    fragmented_messages_both_ways,
    the_client_sees_the_servers_close_code_and_reason,
    an_oversized_request_gets_its_431_before_the_connection_closes,
    close_after_the_peer_closed_is_not_an_error,
    queued_answers_to_a_pipelined_burst_all_arrive_in_order,
    queue_waits_for_a_peer_that_does_not_read,
    a_client_over_a_stream_of_the_runtimes_own,
    the_raw_policy_answers_nothing_on_the_handlers_behalf,
    the_default_spawn_runs_connections,
);

async fn echo_of_text_and_binary_from_0_bytes_to_16_mib(rt: Runtime) {
    limit(LIMIT, async {
        let (addr, _stop) = echo_server(rt, ServerOptions::default()).await;
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
    .await;
}

async fn a_foreign_origin_is_refused_with_403(rt: Runtime) {
    limit(LIMIT, async {
        let (addr, _stop) = echo_server(rt, ServerOptions::default()).await;
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
        // The same origin as the host is welcome.
        let options = ConnectOptions {
            handshake: ClientOptions {
                origin: Some(format!("http://{addr}")),
                ..ClientOptions::default()
            },
            ..ConnectOptions::default()
        };
        let mut ws = connect(&format!("ws://{addr}/"), options).await.unwrap();
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    })
    .await;
}

async fn a_wrong_version_gets_426_naming_13(rt: Runtime) {
    limit(LIMIT, async {
        let (addr, _stop) = echo_server(rt, ServerOptions::default()).await;
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
    .await;
}

async fn a_client_that_never_finishes_its_handshake_is_dropped(rt: Runtime) {
    limit(LIMIT, async {
        let errors = Arc::new(Mutex::new(Vec::new()));
        let seen = errors.clone();
        let options = ServerOptions {
            handshake_timeout: Duration::from_millis(200),
            on_error: Arc::new(move |e| seen.lock().unwrap().push(e.to_string())),
            ..ServerOptions::default()
        };
        let (addr, _stop) = echo_server(rt, options).await;
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let started = Instant::now();
        let mut rest = Vec::new();
        // The server closes the connection without an answer.
        let n = tcp.read_to_end(&mut rest).await.unwrap_or(0);
        assert_eq!(n, 0);
        assert!(started.elapsed() >= Duration::from_millis(150));
        // The server reports it (just after it dropped the stream).
        for _ in 0..100 {
            if !errors.lock().unwrap().is_empty() {
                break;
            }
            async_io::Timer::after(Duration::from_millis(10)).await;
        }
        let errors = errors.lock().unwrap();
        assert_eq!(errors.as_slice(), ["opening handshake timed out"]);
    })
    .await;
}

async fn stop_closes_live_connections_with_1001(rt: Runtime) {
    limit(LIMIT, async {
        let (addr, stop) = echo_server(rt, ServerOptions::default()).await;
        let mut ws = connect(&format!("ws://{addr}/"), ConnectOptions::default())
            .await
            .unwrap();
        ws.send("before stop").await.unwrap();
        assert_eq!(
            ws.recv_message().await.unwrap(),
            Some(Message::from("before stop"))
        );
        stop.send(()).await.unwrap();
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
    .await;
}

/// A handler that never reads again does not hold the server: after `stop_grace`
/// its connection is dropped and the server returns.
async fn stop_grace_drops_connections_that_do_not_close(rt: Runtime) {
    limit(LIMIT, async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = async_channel::bounded::<()>(1);
        let handler_dropped = Arc::new(AtomicBool::new(false));
        let dropped = handler_dropped.clone();
        let options = ServerOptions {
            stop_grace: Duration::from_millis(300),
            spawn: rt.spawner(),
            ..ServerOptions::default()
        };
        struct SetOnDrop(Arc<AtomicBool>);
        impl Drop for SetOnDrop {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let server = establish_standard_server(
            listener,
            options,
            async move {
                let _ = stop_rx.recv().await;
            },
            move |ws| {
                let guard = SetOnDrop(dropped.clone());
                async move {
                    let _guard = guard;
                    let _ws = ws;
                    std::future::pending::<()>().await;
                }
            },
        );
        let client = async {
            let mut ws = connect(&format!("ws://{addr}/"), ConnectOptions::default())
                .await
                .unwrap();
            stop_tx.send(()).await.unwrap();
            // The handler never answers; the connection ends when it is dropped.
            let started = Instant::now();
            let mut last = None;
            while let Ok(Some(event)) = ws.recv().await {
                last = Some(event);
            }
            assert!(started.elapsed() >= Duration::from_millis(250));
            assert!(
                matches!(last, Some(Event::Closed(CloseReason::Eof))),
                "{last:?}"
            );
        };
        let (served, ()) = futures_lite::future::zip(server, client).await;
        served.unwrap();
        assert!(handler_dropped.load(Ordering::SeqCst));
    })
    .await;
}

async fn the_server_sees_the_clients_close_code_and_reason(rt: Runtime) {
    limit(LIMIT, async {
        let (seen_tx, seen_rx) = async_channel::bounded(1);
        let (addr, _stop) = serve(rt, ServerOptions::default(), move |mut ws| {
            let seen_tx = seen_tx.clone();
            async move {
                let peer = ws.peer_addr();
                let path = ws.http_request().map(|r| r.uri().path().to_owned());
                let mut last = None;
                while let Ok(Some(event)) = ws.recv().await {
                    last = Some(event);
                }
                let _ = seen_tx.send((peer, path, last)).await;
            }
        })
        .await;
        let mut ws = connect(&format!("ws://{addr}/room/1"), ConnectOptions::default())
            .await
            .unwrap();
        assert!(ws.peer_addr().is_some_and(|p| p == addr));
        ws.close(CloseCode(4000), "bye now").await.unwrap();
        let (peer, path, last) = seen_rx.recv().await.unwrap();
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
    .await;
}

async fn recv_is_cancel_safe(rt: Runtime) {
    limit(LIMIT, async {
        let (addr, _stop) = echo_server(rt, ServerOptions::default()).await;
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
            let raced = or(async { Some(ws.recv_message().await) }, async {
                yield_now().await;
                None
            })
            .await;
            if let Some(message) = raced {
                got.push(message.unwrap().unwrap());
            }
        }
        let want: Vec<Message> = (0..count).map(|i| Message::from(format!("m{i}"))).collect();
        assert_eq!(got, want);
    })
    .await;
}

async fn two_hundred_concurrent_clients(rt: Runtime) {
    limit(Duration::from_secs(60), async {
        let (addr, _stop) = echo_server(rt, ServerOptions::default()).await;
        let clients = 200;
        // Every client is connected before any of them talks.
        let barrier = Arc::new(async_lock::Barrier::new(clients));
        let (done_tx, done_rx) = async_channel::unbounded();
        for i in 0..clients {
            let barrier = barrier.clone();
            let done_tx = done_tx.clone();
            rt.spawn(async move {
                let mut ws = connect(&format!("ws://{addr}/"), ConnectOptions::default())
                    .await
                    .unwrap();
                barrier.wait().await;
                let text = format!("client {i}");
                ws.send(text.as_str()).await.unwrap();
                assert_eq!(ws.recv_message().await.unwrap(), Some(Message::from(text)));
                ws.close(CloseCode::NORMAL, "").await.unwrap();
                done_tx.send(()).await.unwrap();
            });
        }
        drop(done_tx);
        let mut done = 0;
        // A client that panics drops its sender without a word: the count falls short.
        while done_rx.recv().await.is_ok() {
            done += 1;
        }
        assert_eq!(done, clients);
    })
    .await;
}

async fn send_close_still_delivers_what_the_peer_sent_before_its_close(rt: Runtime) {
    limit(LIMIT, async {
        let (addr, _stop) = echo_server(rt, ServerOptions::default()).await;
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
    .await;
}

async fn fragmented_messages_both_ways(rt: Runtime) {
    limit(LIMIT, async {
        // The server fragments what it sends into 1000-byte frames, the client into 7.
        let server_config = Config {
            fragment_size: Some(1000),
            ..Config::default()
        };
        let (addr, _stop) = echo_server(
            rt,
            ServerOptions {
                config: server_config,
                ..ServerOptions::default()
            },
        )
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
    .await;
}

async fn the_client_sees_the_servers_close_code_and_reason(rt: Runtime) {
    limit(LIMIT, async {
        let (addr, _stop) = serve(rt, ServerOptions::default(), |mut ws| async move {
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
    .await;
}

async fn an_oversized_request_gets_its_431_before_the_connection_closes(rt: Runtime) {
    limit(LIMIT, async {
        let (addr, _stop) = echo_server(rt, ServerOptions::default()).await;
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
    .await;
}

async fn close_after_the_peer_closed_is_not_an_error(rt: Runtime) {
    limit(LIMIT, async {
        let (addr, _stop) = serve(rt, ServerOptions::default(), |mut ws| async move {
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
    .await;
}

/// Answers queued with `queue` while a burst of pipelined messages is handled all
/// arrive, in order, and they go out without an explicit flush.
async fn queued_answers_to_a_pipelined_burst_all_arrive_in_order(rt: Runtime) {
    limit(LIMIT, async {
        let (addr, _stop) = serve(rt, ServerOptions::default(), |mut ws| async move {
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
        rt.spawn(async move { writer.send_multiple(burst).await.unwrap() });
        for expected in &messages {
            let got = timeout(Duration::from_secs(10), reader.recv_message())
                .await
                .expect("the echoes came")
                .unwrap()
                .unwrap();
            assert_eq!(&got, expected);
        }
    })
    .await;
}

/// `queue` waits once 128 KiB are waiting for a peer that does not read, instead of
/// growing its queue.
async fn queue_waits_for_a_peer_that_does_not_read(_rt: Runtime) {
    let (ours, _theirs) = pipe(4096);
    let conn = Connection::new(Role::Server, Config::default(), Instant::now());
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
    assert!(outcome.is_none(), "queue never waited");
    // 128 KiB of 10 kB messages, plus the one that tipped it over.
    assert!(
        (13..=15).contains(&queued),
        "queued {queued} before waiting"
    );
}

/// `client` over a TCP stream of the runtime's own (not async-net's): async-std's, and
/// smol's `Async<std::net::TcpStream>`.
async fn a_client_over_a_stream_of_the_runtimes_own(rt: Runtime) {
    limit(LIMIT, async {
        let (addr, _stop) = echo_server(rt, ServerOptions::default()).await;
        let uri: http::Uri = format!("ws://{addr}/own").parse().unwrap();
        match rt {
            Runtime::AsyncStd => {
                let tcp = async_std::net::TcpStream::connect(addr).await.unwrap();
                let mut ws = ws_async_std::client(tcp, &uri, ConnectOptions::default())
                    .await
                    .unwrap();
                ws.send("async-std").await.unwrap();
                assert_eq!(ws.recv_message().await.unwrap(), Some("async-std".into()));
                ws.close(CloseCode::NORMAL, "").await.unwrap();
            }
            Runtime::Smol => {
                let tcp = smol::Async::<std::net::TcpStream>::connect(addr)
                    .await
                    .unwrap();
                let mut ws = ws_async_std::client(tcp, &uri, ConnectOptions::default())
                    .await
                    .unwrap();
                ws.send("smol").await.unwrap();
                assert_eq!(ws.recv_message().await.unwrap(), Some("smol".into()));
                ws.close(CloseCode::NORMAL, "").await.unwrap();
            }
        }
    })
    .await;
}

/// `establish_server` hands every frame up as it came: a Ping reaches the handler, and
/// no Pong goes out unless the handler sends one.
async fn the_raw_policy_answers_nothing_on_the_handlers_behalf(rt: Runtime) {
    limit(LIMIT, async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (_stop_tx, stop_rx) = async_channel::bounded::<()>(1);
        let options = ServerOptions {
            spawn: rt.spawner(),
            ..ServerOptions::default()
        };
        let stop = async move {
            let _ = stop_rx.recv().await;
        };
        rt.spawn(async move {
            establish_server(listener, options, stop, |mut ws| async move {
                while let Ok(Some(event)) = ws.recv().await {
                    let said = format!("{event:?}");
                    if ws.send(said).await.is_err() {
                        break;
                    }
                }
            })
            .await
            .unwrap();
        });
        let mut ws = connect(&format!("ws://{addr}/"), ConnectOptions::default())
            .await
            .unwrap();
        ws.ping(&b"raw"[..]).await.unwrap();
        let event = ws.recv().await.unwrap().unwrap();
        let Event::Message(Message::Text(text)) = event else {
            panic!("{event:?}");
        };
        // The raw frame, as it came; a Pong would have come first.
        assert!(
            text.starts_with("Frame(") && text.contains("opcode: Ping"),
            "{text}"
        );
    })
    .await;
}

/// `ServerOptions::default().spawn`: async-std's executor with the `async-std` feature,
/// smol's with `smol` alone, a thread per connection with neither.
async fn the_default_spawn_runs_connections(_rt: Runtime) {
    limit(LIMIT, async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = async_channel::bounded::<()>(1);
        let stop = async move {
            let _ = stop_rx.recv().await;
        };
        let server =
            establish_standard_server(listener, ServerOptions::default(), stop, support::echo);
        let client = async {
            let mut ws = connect(&format!("ws://{addr}/"), ConnectOptions::default())
                .await
                .unwrap();
            ws.send("spawned").await.unwrap();
            assert_eq!(ws.recv_message().await.unwrap(), Some("spawned".into()));
            stop_tx.send(()).await.unwrap();
            // The server's stop reaches the connection: 1001.
            let event = ws.recv().await.unwrap();
            assert!(
                matches!(
                    &event,
                    Some(Event::Closed(CloseReason::Handshake { peer: Some(frame), .. }))
                        if frame.code == CloseCode::GOING_AWAY
                ),
                "{event:?}"
            );
        };
        let (served, ()) = futures_lite::future::zip(server, client).await;
        served.unwrap();
    })
    .await;
}
