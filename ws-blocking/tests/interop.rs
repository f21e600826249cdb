//! Every adapter's client against every adapter's server: ws-blocking, ws-async-std
//! and ws-tokio must agree on the wire with each other, not only with themselves (they
//! share the core, but not their drive loops). Each client sends text and binary
//! messages of several sizes, fragmented (the server must reassemble them), a ping,
//! and closes with a code of its own; the server echoes.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

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

/// Client messages go out in frames of at most 1000 bytes.
fn client_config() -> Config {
    Config {
        fragment_size: Some(1000),
        ..Config::default()
    }
}

// ===== servers =====

fn blocking_server() -> SocketAddr {
    let server = support::echo_server(ws_blocking::ServerOptions::default());
    let addr = server.addr;
    // Runs until the test process ends.
    std::mem::forget(server);
    addr
}

fn tokio_server() -> SocketAddr {
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
                    ws_tokio::ServerOptions::default(),
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

fn async_std_server() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        async_std::task::block_on(async move {
            let listener = ws_async_std::async_net::TcpListener::try_from(listener).unwrap();
            ws_async_std::establish_standard_server(
                listener,
                ws_async_std::ServerOptions::default(),
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

fn blocking_client(addr: SocketAddr) {
    let options = ws_blocking::ConnectOptions {
        config: client_config(),
        ..Default::default()
    };
    let mut ws = ws_blocking::connect(&format!("ws://{addr}/"), options).unwrap();
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

fn tokio_client(addr: SocketAddr) {
    let run = async move {
        let options = ws_tokio::ConnectOptions {
            config: client_config(),
            ..Default::default()
        };
        let mut ws = ws_tokio::connect(&format!("ws://{addr}/"), options)
            .await
            .unwrap();
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

fn async_std_client(addr: SocketAddr) {
    async_std::task::block_on(async_std::future::timeout(
        Duration::from_secs(30),
        async move {
            let options = ws_async_std::ConnectOptions {
                config: client_config(),
                ..Default::default()
            };
            let mut ws = ws_async_std::connect(&format!("ws://{addr}/"), options)
                .await
                .unwrap();
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

/// One test per pair, so a failure names both sides.
macro_rules! pairs {
    ($($name:ident: $client:ident -> $server:ident;)*) => {
        $(
            #[test]
            fn $name() {
                $client($server());
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
