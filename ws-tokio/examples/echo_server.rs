//! An echo server with the default options (so the Origin == Host check is on): every
//! message comes back with its type.
//!
//! ```sh
//! cargo run --release -p ws-tokio --example echo_server -- [ADDR] [--tls-cert PEM --tls-key PEM] [--subprotocols a,b]
//! ```
//!
//! `ADDR` defaults to 127.0.0.1:9001. With a certificate chain and a key, it serves
//! `wss://`. With `--subprotocols`, the first protocol the
//! client offers that is in the list is selected. Ctrl-C stops it gracefully: live
//! connections are closed with 1001.

use std::sync::Arc;

use ws_tokio::{Event, ServerOptions, establish_standard_server};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = ws_testkit::examples::EchoArgs::parse();
    let tls = match &args.tls {
        Some((cert, key)) => {
            Some(ws_tokio::tls::server_config_from_pem(cert, key).map_err(std::io::Error::other)?)
        }
        None => None,
    };
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    let options = ServerOptions {
        tls,
        select_subprotocol: Arc::new(args.select_subprotocol()),
        ..ServerOptions::default()
    };
    let listener = tokio::net::TcpListener::bind(&args.addr).await?;
    eprintln!("echo server on {scheme}://{}", listener.local_addr()?);
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    establish_standard_server(listener, options, stop, |mut ws| async move {
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
