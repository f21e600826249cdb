//! Every adapter's client against every adapter's server: ws-blocking, ws-async-std
//! and ws-tokio must agree on the wire with each other, not only with themselves (they
//! share the core, but not their drive loops). Each client sends text and binary
//! messages of several sizes, fragmented (the server must reassemble them), a ping,
//! and closes with a code of its own; the server echoes. Every pair runs twice: plain,
//! and with permessage-deflate negotiated (and checked to be).

use std::net::SocketAddr;
use std::time::Duration;

use ws_blocking::ws_proto::DeflateConfig;
use ws_blocking::{CloseCode, Config, Message};

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
        ws_blocking::Event::Pong(payload) => Some(payload),
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
                Some(ws_tokio::Event::Pong(payload)) => {
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
                    Some(ws_async_std::Event::Pong(payload)) => {
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

/// Two tests per pair (plain and compressed), so a failure names both sides.
macro_rules! pairs {
    ($($name:ident: $client:ident -> $server:ident;)*) => {
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
            }
        )*
    };
}

pairs! {
    blocking_client_to_blocking_server: blocking_client -> blocking_server;
    blocking_client_to_async_std_server: blocking_client -> async_std_server;
    blocking_client_to_tokio_server: blocking_client -> tokio_server;
    async_std_client_to_blocking_server: async_std_client -> blocking_server;
    async_std_client_to_async_std_server: async_std_client -> async_std_server;
    async_std_client_to_tokio_server: async_std_client -> tokio_server;
    tokio_client_to_blocking_server: tokio_client -> blocking_server;
    tokio_client_to_async_std_server: tokio_client -> async_std_server;
    tokio_client_to_tokio_server: tokio_client -> tokio_server;
}
