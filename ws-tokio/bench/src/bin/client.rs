//! A client on one of the implementations under test, against the neutral server:
//!
//! ```sh
//! client <ours|ours-busy|ours-async-std|tungstenite|fastwebsockets|tokio-websockets|ours-blocking|tungstenite-blocking> URL SIZE CONNS WINDOW WARMUP_SECS SECS
//! ```
//!
//! Each connection sends WINDOW binary messages, then one more for every echo it
//! receives. Prints the messages per second echoed over SECS, after WARMUP_SECS (counted
//! from when every connection is open).

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;

static ECHOED: AtomicU64 = AtomicU64::new(0);

type Res = Result<(), Box<dyn std::error::Error>>;

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 7 {
        return Err(io::Error::other(
            "usage: client IMPL URL SIZE CONNS WINDOW WARMUP SECS",
        ));
    }
    let which = args[0].clone();
    let url = args[1].clone();
    let size = ws_bench::parse_size(&args[2]);
    let conns: usize = args[3].parse().expect("connections");
    let window: usize = args[4].parse().expect("window");
    let (warmup, secs) = (ws_bench::secs(&args[5]), ws_bench::secs(&args[6]));
    let payload = Bytes::from(vec![b'x'; size]);
    if which == "ours-async-std" {
        // Tasks on async-std's executor; the runtime below only keeps the time.
        for _ in 0..conns {
            let (url, payload) = (url.clone(), payload.clone());
            async_std::task::spawn(async move {
                if let Err(e) = ours_async_std(&url, payload, window).await {
                    eprintln!("client: {e}");
                    std::process::exit(1);
                }
            });
        }
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(ws_bench::report_rate(&ECHOED, conns, warmup, secs));
    }
    if ws_bench::BLOCKING.contains(&which.as_str()) {
        // A thread per connection; the runtime below only keeps the time.
        for _ in 0..conns {
            let (url, payload, which) = (url.clone(), payload.clone(), which.clone());
            std::thread::spawn(move || {
                let run = match which.as_str() {
                    "ours-blocking" => ours_blocking(&url, payload, window),
                    _ => tungstenite_blocking(&url, payload, window),
                };
                if let Err(e) = run {
                    eprintln!("client: {e}");
                    std::process::exit(1);
                }
            });
        }
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(ws_bench::report_rate(&ECHOED, conns, warmup, secs));
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let local = tokio::task::LocalSet::new();
            local
                .run_until(async move {
                    for _ in 0..conns {
                        let (url, payload, which) = (url.clone(), payload.clone(), which.clone());
                        let task = async move {
                            match which.as_str() {
                                "ours" => ours(&url, payload, window, Duration::ZERO).await,
                                "ours-busy" => {
                                    ours(&url, payload, window, ws_bench::busy_poll()).await
                                }
                                "tungstenite" => tungstenite(&url, payload, window).await,
                                "fastwebsockets" => fastwebsockets(&url, payload, window).await,
                                "tokio-websockets" => tokio_websockets(&url, payload, window).await,
                                other => Err(format!("unknown implementation {other}").into()),
                            }
                        };
                        tokio::task::spawn_local(async move {
                            if let Err(e) = task.await {
                                eprintln!("client: {e}");
                                std::process::exit(1);
                            }
                        });
                    }
                    ws_bench::report_rate(&ECHOED, conns, warmup, secs).await
                })
                .await
        })
}

fn host_of(url: &str) -> &str {
    url.trim_start_matches("ws://").trim_end_matches('/')
}

async fn ours(url: &str, payload: Bytes, window: usize, busy: Duration) -> Res {
    use ws_tokio::{ConnectOptions, Message};
    let mut options = ConnectOptions::default();
    if let Ok(v) = std::env::var("WS_WRITE_CHUNK") {
        options.config.write_chunk_size = ws_bench::parse_size(&v);
    }
    if let Ok(v) = std::env::var("WS_READ_SIZE") {
        options.read_size = ws_bench::parse_size(&v);
    }
    let mut ws = ws_tokio::connect(url, options).await?;
    ws_bench::connected();
    ws.set_busy_poll(busy);
    for _ in 0..window {
        ws.send(Message::Binary(payload.clone())).await?;
    }
    // `queue`: the next `recv` writes it, with any others, before it waits.
    while ws.recv_message().await?.is_some() {
        ECHOED.fetch_add(1, Ordering::Relaxed);
        ws.queue(Message::Binary(payload.clone())).await?;
    }
    Ok(())
}

async fn tungstenite(url: &str, payload: Bytes, window: usize) -> Res {
    use tokio_tungstenite::tungstenite::Message;
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true).await?;
    ws_bench::connected();
    for _ in 0..window {
        ws.send(Message::Binary(payload.clone())).await?;
    }
    while let Some(message) = ws.next().await {
        if message?.is_binary() {
            ECHOED.fetch_add(1, Ordering::Relaxed);
            ws.send(Message::Binary(payload.clone())).await?;
        }
    }
    Ok(())
}

async fn fastwebsockets(url: &str, payload: Bytes, window: usize) -> Res {
    use fastwebsockets::{FragmentCollector, Frame, OpCode, Payload, Role, WebSocket};
    let host = host_of(url);
    let mut stream = TcpStream::connect(host).await?;
    stream.set_nodelay(true)?;
    ws_bench::raw_client_handshake(&mut stream, host).await?;
    ws_bench::connected();
    let mut ws = WebSocket::after_handshake(stream, Role::Client);
    ws.set_writev(true);
    let mut ws = FragmentCollector::new(ws);
    // A client masks in place, so each message is copied into a scratch buffer first.
    let mut scratch = payload.to_vec();
    for _ in 0..window {
        scratch.copy_from_slice(&payload);
        ws.write_frame(Frame::binary(Payload::BorrowedMut(&mut scratch)))
            .await?;
    }
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Binary => {
                ECHOED.fetch_add(1, Ordering::Relaxed);
                scratch.copy_from_slice(&payload);
                ws.write_frame(Frame::binary(Payload::BorrowedMut(&mut scratch)))
                    .await?;
            }
            _ => {}
        }
    }
}

async fn tokio_websockets(url: &str, payload: Bytes, window: usize) -> Res {
    use tokio_websockets::{ClientBuilder, Message};
    let stream = TcpStream::connect(host_of(url)).await?;
    stream.set_nodelay(true)?;
    let uri: http::Uri = url.parse()?;
    let (mut ws, _) = ClientBuilder::from_uri(uri).connect_on(stream).await?;
    ws_bench::connected();
    for _ in 0..window {
        ws.send(Message::binary(payload.clone())).await?;
    }
    while let Some(message) = ws.next().await {
        if message?.is_binary() {
            ECHOED.fetch_add(1, Ordering::Relaxed);
            ws.send(Message::binary(payload.clone())).await?;
        }
    }
    Ok(())
}

async fn ours_async_std(url: &str, payload: Bytes, window: usize) -> Res {
    use ws_async_std::{ConnectOptions, Message};
    let mut ws = ws_async_std::connect(url, ConnectOptions::default()).await?;
    ws_bench::connected();
    for _ in 0..window {
        ws.send(Message::Binary(payload.clone())).await?;
    }
    while ws.recv_message().await?.is_some() {
        ECHOED.fetch_add(1, Ordering::Relaxed);
        ws.queue(Message::Binary(payload.clone())).await?;
    }
    Ok(())
}

fn ours_blocking(url: &str, payload: Bytes, window: usize) -> Res {
    use ws_blocking::{ConnectOptions, Message};
    let mut options = ConnectOptions::default();
    if let Ok(v) = std::env::var("WS_WRITE_CHUNK") {
        options.config.write_chunk_size = ws_bench::parse_size(&v);
    }
    let mut ws = ws_blocking::connect(url, options)?;
    ws_bench::connected();
    for _ in 0..window {
        ws.send(Message::Binary(payload.clone()))?;
    }
    // `queue`: the next `recv` writes it, with any others, before it blocks.
    while ws.recv_message()?.is_some() {
        ECHOED.fetch_add(1, Ordering::Relaxed);
        ws.queue(Message::Binary(payload.clone()))?;
    }
    Ok(())
}

fn tungstenite_blocking(url: &str, payload: Bytes, window: usize) -> Res {
    use tungstenite::Message;
    let stream = std::net::TcpStream::connect(host_of(url))?;
    stream.set_nodelay(true)?;
    let (mut ws, _) = tungstenite::client(url, stream)?;
    ws_bench::connected();
    for _ in 0..window {
        ws.send(Message::Binary(payload.clone()))?;
    }
    loop {
        if ws.read()?.is_binary() {
            ECHOED.fetch_add(1, Ordering::Relaxed);
            ws.send(Message::Binary(payload.clone()))?;
        }
    }
}
