//! Every adapter's client against every adapter's server: ws-blocking, ws-async-std
//! and ws-tokio must agree on the wire with each other, not only with themselves (they
//! share the core, but not their drive loops). Each client sends text and binary
//! messages of several sizes, fragmented (the server must reassemble them), a ping,
//! and closes with a code of its own; the server echoes. Then the bursts: 10 000
//! messages and a Close from the client, all echoed before the server's Close, and
//! 10 000 messages and a Close from the server, all delivered before the close event.
//! Every test runs twice: plain, and with permessage-deflate negotiated (and checked
//! to be).

use std::net::SocketAddr;
use std::time::Duration;

use ws_blocking::ws_proto::DeflateConfig;
use ws_blocking::{CloseCode, CloseReason, Config, Event, Message};

const SIZES: [usize; 5] = [0, 125, 126, 70_000, 1 << 20];

/// The messages a client sends, in order.
fn messages() -> Vec<Message> {
    let mut all = Vec::new();
    for size in SIZES {
        all.push(Message::Text("ü".repeat(size / 2).into()));
        all.push(Message::Binary(vec![(size % 256) as u8; size].into()));
    }
    all
}

/// Client messages go out in frames of at most 1000 bytes; with `deflate`, compressed.
fn client_config(deflate: bool) -> Config {
    Config {
        fragment_size: Some(1000),
        deflate: deflate.then(DeflateConfig::default),
        ..Config::default()
    }
}

/// A server's settings: with `deflate`, permessage-deflate is accepted.
fn server_config(deflate: bool) -> Config {
    Config {
        deflate: deflate.then(DeflateConfig::default),
        ..Config::default()
    }
}

/// How many messages each side sends back to back before its Close in the burst
/// tests: everything queued before a clean close must arrive before it, and
/// everything received before the peer's Close must be delivered before the close.
const BURST: usize = 10_000;

/// Message `n` of a burst: small, numbered, text and binary in turn.
fn burst_message(n: usize) -> Message {
    if n % 2 == 0 {
        Message::Text(format!("burst message {n}").into())
    } else {
        Message::Binary(format!("burst message {n}").into_bytes().into())
    }
}

/// Asks the server for a burst of its own: [`BURST`] messages, then its Close 1000.
fn burst_request() -> Message {
    Message::Text("send me a burst".into())
}

/// The end of a burst test: the closing handshake completed with 1000 from the peer.
#[track_caller]
fn assert_closed_normally(event: Option<Event>, initiated_locally: bool) {
    match event {
        Some(Event::Closed(CloseReason::Handshake {
            peer: Some(frame),
            initiated_locally: local,
        })) if frame.code == CloseCode::NORMAL && local == initiated_locally => {}
        other => panic!(
            "expected a closing handshake with 1000 (ours first: {initiated_locally}), got \
             {other:?}"
        ),
    }
}

// ===== servers =====

fn blocking_server(deflate: bool) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let options = ws_blocking::ServerOptions {
        config: server_config(deflate),
        ..Default::default()
    };
    // Runs until the test process ends.
    std::thread::spawn(move || {
        ws_blocking::establish_standard_server(
            listener,
            options,
            ws_blocking::StopHandle::new(),
            |mut ws| {
                while let Ok(Some(message)) = ws.recv_message() {
                    if message == burst_request() {
                        for n in 0..BURST {
                            if ws.queue(burst_message(n)).is_err() {
                                return;
                            }
                        }
                        let _ = ws.close(CloseCode::NORMAL, "burst sent");
                        return;
                    }
                    if ws.send(message).is_err() {
                        break;
                    }
                }
            },
        )
    });
    addr
}

fn tokio_server(deflate: bool) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                ws_tokio::establish_standard_server(
                    listener,
                    ws_tokio::ServerOptions {
                        config: server_config(deflate),
                        ..Default::default()
                    },
                    std::future::pending(),
                    |mut ws| async move {
                        while let Ok(Some(message)) = ws.recv_message().await {
                            if message == burst_request() {
                                for n in 0..BURST {
                                    if ws.queue(burst_message(n)).await.is_err() {
                                        return;
                                    }
                                }
                                let _ = ws.close(CloseCode::NORMAL, "burst sent").await;
                                return;
                            }
                            if ws.send(message).await.is_err() {
                                break;
                            }
                        }
                    },
                )
                .await
                .unwrap();
            });
    });
    addr
}

fn async_std_server(deflate: bool) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        async_std::task::block_on(async move {
            let listener = ws_async_std::async_net::TcpListener::try_from(listener).unwrap();
            ws_async_std::establish_standard_server(
                listener,
                ws_async_std::ServerOptions {
                    config: server_config(deflate),
                    ..Default::default()
                },
                std::future::pending(),
                |mut ws| async move {
                    while let Ok(Some(message)) = ws.recv_message().await {
                        if message == burst_request() {
                            for n in 0..BURST {
                                if ws.queue(burst_message(n)).await.is_err() {
                                    return;
                                }
                            }
                            let _ = ws.close(CloseCode::NORMAL, "burst sent").await;
                            return;
                        }
                        if ws.send(message).await.is_err() {
                            break;
                        }
                    }
                },
            )
            .await
            .unwrap();
        });
    });
    addr
}

// ===== clients =====

fn blocking_client(addr: SocketAddr, deflate: bool) {
    let options = ws_blocking::ConnectOptions {
        config: client_config(deflate),
        ..Default::default()
    };
    let mut ws = ws_blocking::connect(&format!("ws://{addr}/"), options).unwrap();
    assert_eq!(ws.connection().deflate_params().is_some(), deflate);
    for message in messages() {
        ws.send(message.clone()).unwrap();
        assert_eq!(ws.recv_message().unwrap(), Some(message));
    }
    ws.ping(&b"interop"[..]).unwrap();
    let pong = ws.events().find_map(|e| match e.unwrap() {
        Event::Pong(payload) => Some(payload),
        _ => None,
    });
    assert_eq!(pong.as_deref(), Some(&b"interop"[..]));
    ws.close(CloseCode::from(4000), "bye").unwrap();
    assert!(ws.recv().unwrap().is_none());
}

fn tokio_client(addr: SocketAddr, deflate: bool) {
    let run = async move {
        let options = ws_tokio::ConnectOptions {
            config: client_config(deflate),
            ..Default::default()
        };
        let mut ws = ws_tokio::connect(&format!("ws://{addr}/"), options)
            .await
            .unwrap();
        assert_eq!(ws.connection().deflate_params().is_some(), deflate);
        for message in messages() {
            ws.send(message.clone()).await.unwrap();
            assert_eq!(ws.recv_message().await.unwrap(), Some(message));
        }
        ws.ping(&b"interop"[..]).await.unwrap();
        loop {
            match ws.recv().await.unwrap() {
                Some(Event::Pong(payload)) => {
                    assert_eq!(&payload[..], b"interop");
                    break;
                }
                Some(_) => {}
                None => panic!("closed before the pong"),
            }
        }
        ws.close(CloseCode::from(4000), "bye").await.unwrap();
        assert!(ws.recv().await.unwrap().is_none());
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(30), run)
                .await
                .expect("in time");
        });
}

fn async_std_client(addr: SocketAddr, deflate: bool) {
    async_std::task::block_on(async_std::future::timeout(
        Duration::from_secs(30),
        async move {
            let options = ws_async_std::ConnectOptions {
                config: client_config(deflate),
                ..Default::default()
            };
            let mut ws = ws_async_std::connect(&format!("ws://{addr}/"), options)
                .await
                .unwrap();
            assert_eq!(ws.connection().deflate_params().is_some(), deflate);
            for message in messages() {
                ws.send(message.clone()).await.unwrap();
                assert_eq!(ws.recv_message().await.unwrap(), Some(message));
            }
            ws.ping(&b"interop"[..]).await.unwrap();
            loop {
                match ws.recv().await.unwrap() {
                    Some(Event::Pong(payload)) => {
                        assert_eq!(&payload[..], b"interop");
                        break;
                    }
                    Some(_) => {}
                    None => panic!("closed before the pong"),
                }
            }
            ws.close(CloseCode::from(4000), "bye").await.unwrap();
            assert!(ws.recv().await.unwrap().is_none());
        },
    ))
    .expect("in time");
}

/// The burst tests: [`BURST`] messages then a Close from the client (one thread
/// writes, the other reads the echoes), then the same from the server.
fn blocking_bursts(addr: SocketAddr, deflate: bool) {
    let connect = || {
        let options = ws_blocking::ConnectOptions {
            config: client_config(deflate),
            ..Default::default()
        };
        ws_blocking::connect(&format!("ws://{addr}/"), options).unwrap()
    };
    let (mut reader, mut writer) = connect().split().unwrap();
    let sender = std::thread::spawn(move || -> Result<(), ws_blocking::Error> {
        for n in 0..BURST {
            writer.queue(burst_message(n))?;
        }
        writer.send_close(CloseCode::NORMAL, "burst sent")
    });
    for n in 0..BURST {
        assert_eq!(
            reader.recv_message().unwrap(),
            Some(burst_message(n)),
            "echo {n}"
        );
    }
    assert_closed_normally(reader.recv().unwrap(), true);
    sender.join().unwrap().unwrap();

    let mut ws = connect();
    ws.send(burst_request()).unwrap();
    for n in 0..BURST {
        assert_eq!(
            ws.recv_message().unwrap(),
            Some(burst_message(n)),
            "message {n}"
        );
    }
    assert_closed_normally(ws.recv().unwrap(), false);
}

fn tokio_bursts(addr: SocketAddr, deflate: bool) {
    let connect = || async move {
        let options = ws_tokio::ConnectOptions {
            config: client_config(deflate),
            ..Default::default()
        };
        ws_tokio::connect(&format!("ws://{addr}/"), options)
            .await
            .unwrap()
    };
    let run = async move {
        let (mut reader, mut writer) = connect().await.split();
        let sender = tokio::spawn(async move {
            writer.send_multiple((0..BURST).map(burst_message)).await?;
            writer.send_close(CloseCode::NORMAL, "burst sent").await
        });
        for n in 0..BURST {
            assert_eq!(
                reader.recv_message().await.unwrap(),
                Some(burst_message(n)),
                "echo {n}"
            );
        }
        assert_closed_normally(reader.recv().await.unwrap(), true);
        sender.await.unwrap().unwrap();

        let mut ws = connect().await;
        ws.send(burst_request()).await.unwrap();
        for n in 0..BURST {
            assert_eq!(
                ws.recv_message().await.unwrap(),
                Some(burst_message(n)),
                "message {n}"
            );
        }
        assert_closed_normally(ws.recv().await.unwrap(), false);
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(30), run)
                .await
                .expect("in time");
        });
}

fn async_std_bursts(addr: SocketAddr, deflate: bool) {
    let connect = || async move {
        let options = ws_async_std::ConnectOptions {
            config: client_config(deflate),
            ..Default::default()
        };
        ws_async_std::connect(&format!("ws://{addr}/"), options)
            .await
            .unwrap()
    };
    let run = async move {
        let (mut reader, mut writer) = connect().await.split();
        let sender = async_std::task::spawn(async move {
            writer.send_multiple((0..BURST).map(burst_message)).await?;
            writer.send_close(CloseCode::NORMAL, "burst sent").await
        });
        for n in 0..BURST {
            assert_eq!(
                reader.recv_message().await.unwrap(),
                Some(burst_message(n)),
                "echo {n}"
            );
        }
        assert_closed_normally(reader.recv().await.unwrap(), true);
        sender.await.unwrap();

        let mut ws = connect().await;
        ws.send(burst_request()).await.unwrap();
        for n in 0..BURST {
            assert_eq!(
                ws.recv_message().await.unwrap(),
                Some(burst_message(n)),
                "message {n}"
            );
        }
        assert_closed_normally(ws.recv().await.unwrap(), false);
    };
    async_std::task::block_on(async_std::future::timeout(Duration::from_secs(30), run))
        .expect("in time");
}

/// Four tests per pair (the exchange and the bursts, plain and compressed), so a
/// failure names both sides.
macro_rules! pairs {
    ($($name:ident: $client:ident, $bursts:ident -> $server:ident;)*) => {
        $(
            mod $name {
                #[test]
                fn plain() {
                    super::$client(super::$server(false), false);
                }

                #[test]
                fn compressed() {
                    super::$client(super::$server(true), true);
                }

                #[test]
                fn bursts_plain() {
                    super::$bursts(super::$server(false), false);
                }

                #[test]
                fn bursts_compressed() {
                    super::$bursts(super::$server(true), true);
                }
            }
        )*
    };
}

pairs! {
    blocking_client_to_blocking_server: blocking_client, blocking_bursts -> blocking_server;
    blocking_client_to_async_std_server: blocking_client, blocking_bursts -> async_std_server;
    blocking_client_to_tokio_server: blocking_client, blocking_bursts -> tokio_server;
    async_std_client_to_blocking_server: async_std_client, async_std_bursts -> blocking_server;
    async_std_client_to_async_std_server: async_std_client, async_std_bursts -> async_std_server;
    async_std_client_to_tokio_server: async_std_client, async_std_bursts -> tokio_server;
    tokio_client_to_blocking_server: tokio_client, tokio_bursts -> blocking_server;
    tokio_client_to_async_std_server: tokio_client, tokio_bursts -> async_std_server;
    tokio_client_to_tokio_server: tokio_client, tokio_bursts -> tokio_server;
}
