//! An echo server on smol, with the default options (so the Origin == Host check
//! is on): every message comes back with its type.
//!
//! ```sh
//! cargo run --release -p ws-async-std --example smol_echo_server -- [ADDR] [--tls-cert PEM --tls-key PEM] [--subprotocols a,b]
//! ```
//!
//! `ADDR` defaults to 127.0.0.1:9001. With a certificate chain and a key, it serves
//! `wss://`. With `--subprotocols`, the first protocol the client offers that is in the
//! list is selected. Ctrl-C (SIGINT, on Unix) stops it gracefully: live connections are
//! closed with 1001.

use std::sync::Arc;

use ws_async_std::async_net::TcpListener;
use ws_async_std::{Event, ServerOptions, establish_standard_server};

fn main() -> std::io::Result<()> {
    smol::block_on(serve())
}

async fn serve() -> std::io::Result<()> {
    let (addr, mut options) = parse_args()?;
    // Connections run on smol's executor (the default is async-std's when that
    // feature is on).
    options.spawn = Arc::new(|task| smol::spawn(task).detach());
    let listener = TcpListener::bind(&addr).await?;
    let scheme = if options.tls.is_some() { "wss" } else { "ws" };
    eprintln!("echo server on {scheme}://{}", listener.local_addr()?);
    establish_standard_server(listener, options, ctrl_c(), |mut ws| async move {
        while let Ok(Some(event)) = ws.recv().await {
            // `queue`, not `send`: the answers to a burst of messages go out together,
            // in one write, when `recv` runs out of input (a connection that has its
            // thread to itself writes small answers at each `recv`: `queue`'s docs).
            if let Event::Message(message) = event {
                if ws.queue(message).await.is_err() {
                    break;
                }
            }
        }
    })
    .await
}

/// The shared command line of the echo servers, as options.
fn parse_args() -> std::io::Result<(String, ServerOptions)> {
    let args = ws_testkit::examples::EchoArgs::parse();
    let tls = match &args.tls {
        Some((cert, key)) => Some(
            ws_async_std::tls::server_config_from_pem(cert, key).map_err(std::io::Error::other)?,
        ),
        None => None,
    };
    let options = ServerOptions {
        tls,
        select_subprotocol: Arc::new(args.select_subprotocol()),
        ..ServerOptions::default()
    };
    Ok((args.addr, options))
}

/// Completes at the first Ctrl-C (SIGINT); never on platforms without Unix signals.
async fn ctrl_c() {
    #[cfg(unix)]
    {
        use async_signal::{Signal, Signals};
        use futures_lite::StreamExt;
        if let Ok(mut signals) = Signals::new([Signal::Int]) {
            signals.next().await;
            return;
        }
    }
    std::future::pending::<()>().await;
}
