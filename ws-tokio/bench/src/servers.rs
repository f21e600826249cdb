//! The echo servers under test, shared by the `server` binary and the allocation
//! counter.

use std::io;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};

/// Binds `addr`, tells `announce` the address, and serves echo connections with
/// implementation `which` forever, on the runtime that implementation needs: a
/// current-thread tokio runtime, async-std's, or a thread per connection.
pub fn serve_forever(
    which: &str,
    addr: &str,
    announce: impl FnOnce(std::net::SocketAddr),
) -> io::Result<()> {
    let listener = std::net::TcpListener::bind(addr)?;
    announce(listener.local_addr()?);
    if is_blocking(which) {
        return run_blocking(which, listener);
    }
    if which == "ours-async-std" {
        // Connections on async-std's executor (its default spawn).
        return async_std::task::block_on(ours_async_std(listener, None));
    }
    if which == "ours-smol" {
        // Connections on one smol executor that this thread runs: the reactor and the
        // tasks on one thread, as the peers' current-thread tokio runtime has them.
        let ex = std::sync::Arc::new(smol::Executor::new());
        let spawner = ex.clone();
        let spawn: ws_async_std::Spawn =
            std::sync::Arc::new(move |task| spawner.spawn(task).detach());
        // The accept loop is a task too, and `run` is given only its handle: the future
        // `run` is given is polled again at every wake-up of the thread, and an accept
        // loop there would try an accept (and re-arm the listener) for every message.
        let accept_loop = ex.spawn(ours_async_std(listener, Some(spawn)));
        return smol::block_on(ex.run(accept_loop));
    }
    listener.set_nonblocking(true)?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async move { run(which, TcpListener::from_std(listener)?).await })
}

/// Serves echo connections on `listener` with tokio implementation `which`, forever.
pub async fn run(which: &str, listener: TcpListener) -> io::Result<()> {
    match which {
        "ours" => ours(listener, true, Duration::ZERO).await,
        "ours-send" => ours(listener, false, Duration::ZERO).await,
        "ours-busy" => ours(listener, true, crate::busy_poll()).await,
        "tungstenite" => serve(listener, tungstenite).await,
        "fastwebsockets" => serve(listener, fastwebsockets).await,
        "tokio-websockets" => serve(listener, tokio_websockets).await,
        other => Err(io::Error::other(format!("unknown implementation {other}"))),
    }
}

/// Our echo loop, with `queue` (answers to a burst of messages go out in one write,
/// when the input runs out, or at each `recv` for a connection that has the thread to
/// itself: the loop the `echo_server` example uses) or with `send` (one write per
/// message, like the peers' loops), and busy polling for `busy` (`ours-busy`).
async fn ours(listener: TcpListener, queue: bool, busy: Duration) -> io::Result<()> {
    use ws_tokio::{Event, ServerOptions, establish_standard_server};
    let mut options = ServerOptions::default();
    if let Ok(v) = std::env::var("WS_READ_SIZE") {
        options.read_size = crate::parse_size(&v);
    }
    establish_standard_server(
        listener,
        options,
        std::future::pending(),
        move |mut ws| async move {
            ws.set_busy_poll(busy);
            while let Ok(Some(event)) = ws.recv().await {
                if let Event::Message(message) = event {
                    let sent = if queue {
                        ws.queue(message).await
                    } else {
                        ws.send(message).await
                    };
                    if sent.is_err() {
                        break;
                    }
                }
            }
        },
    )
    .await
}

/// Our echo loop on ws-async-std (connections spawned on async-std's executor), with
/// `queue` like `ours`; on `spawn`'s executor when given (`ours-smol`).
async fn ours_async_std(
    listener: std::net::TcpListener,
    spawn: Option<ws_async_std::Spawn>,
) -> io::Result<()> {
    use ws_async_std::{Event, ServerOptions, establish_standard_server};
    let listener = ws_async_std::async_net::TcpListener::try_from(listener)?;
    let mut options = ServerOptions::default();
    if let Some(spawn) = spawn {
        options.spawn = spawn;
    }
    establish_standard_server(
        listener,
        options,
        std::future::pending(),
        |mut ws| async move {
            while let Ok(Some(event)) = ws.recv().await {
                if let Event::Message(message) = event
                    && ws.queue(message).await.is_err()
                {
                    break;
                }
            }
        },
    )
    .await
}

/// The accept loop for the peers, which have none of their own.
async fn serve<F, Fut>(listener: TcpListener, handler: F) -> io::Result<()>
where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = Result<(), Box<dyn std::error::Error>>> + 'static,
{
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async move {
            loop {
                let (stream, _) = listener.accept().await?;
                stream.set_nodelay(true)?;
                let task = handler(stream);
                tokio::task::spawn_local(async move {
                    let _ = task.await;
                });
            }
        })
        .await
}

async fn tungstenite(stream: TcpStream) -> Result<(), Box<dyn std::error::Error>> {
    let mut ws = tokio_tungstenite::accept_async(stream).await?;
    while let Some(message) = ws.next().await {
        let message = message?;
        if message.is_binary() || message.is_text() {
            ws.send(message).await?;
        }
    }
    Ok(())
}

async fn fastwebsockets(mut stream: TcpStream) -> Result<(), Box<dyn std::error::Error>> {
    use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket};
    let leftover = crate::raw_server_handshake(&mut stream).await?;
    assert!(leftover.is_empty(), "the load generator waits for the 101");
    let mut ws = WebSocket::after_handshake(stream, Role::Server);
    ws.set_auto_close(true);
    ws.set_auto_pong(true);
    ws.set_writev(true);
    let mut ws = FragmentCollector::new(ws);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
}

async fn tokio_websockets(stream: TcpStream) -> Result<(), Box<dyn std::error::Error>> {
    let (_request, mut ws) = tokio_websockets::ServerBuilder::new()
        .accept(stream)
        .await?;
    while let Some(message) = ws.next().await {
        let message = message?;
        if message.is_binary() || message.is_text() {
            ws.send(message).await?;
        }
    }
    Ok(())
}

/// Serves echo connections on `listener` with blocking implementation `which`, a
/// thread per connection, forever.
pub fn run_blocking(which: &str, listener: std::net::TcpListener) -> io::Result<()> {
    match which {
        "ours-blocking" => ours_blocking(listener),
        "tungstenite-blocking" => {
            for stream in listener.incoming() {
                let stream = stream?;
                stream.set_nodelay(true)?;
                std::thread::spawn(move || {
                    let _ = tungstenite_blocking(stream);
                });
            }
            Ok(())
        }
        other => Err(io::Error::other(format!("unknown implementation {other}"))),
    }
}

/// Whether `which` is one of the blocking servers.
pub fn is_blocking(which: &str) -> bool {
    crate::BLOCKING.contains(&which)
}

/// Our blocking echo loop: `queue`, like the `blocking_echo_server` example.
fn ours_blocking(listener: std::net::TcpListener) -> io::Result<()> {
    use ws_blocking::{Event, ServerOptions, StopHandle, establish_standard_server};
    let options = ServerOptions {
        max_connections: 100_000,
        ..ServerOptions::default()
    };
    establish_standard_server(listener, options, StopHandle::new(), |mut ws| {
        while let Ok(Some(event)) = ws.recv() {
            if let Event::Message(message) = event
                && ws.queue(message).is_err()
            {
                break;
            }
        }
    })
}

fn tungstenite_blocking(stream: std::net::TcpStream) -> Result<(), Box<dyn std::error::Error>> {
    let mut ws = tungstenite::accept(stream)?;
    loop {
        let message = ws.read()?;
        if message.is_binary() || message.is_text() {
            ws.send(message)?;
        }
    }
}
