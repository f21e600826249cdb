//! An echo server with the default options (so the Origin == Host check is on): every
//! message comes back with its type.
//!
//! ```sh
//! cargo run --release -p ws-tokio --example echo_server -- [ADDR] [--subprotocols a,b]
//! ```
//!
//! `ADDR` defaults to 127.0.0.1:9001. With `--subprotocols`, the first protocol the
//! client offers that is in the list is selected. Ctrl-C stops it gracefully: live
//! connections are closed with 1001.

use std::sync::Arc;

use ws_tokio::{Event, ServerOptions, establish_standard_server};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut addr = "127.0.0.1:9001".to_owned();
    let mut protocols: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--subprotocols" => {
                let list = args.next().unwrap_or_default();
                protocols = list.split(',').map(str::to_owned).collect();
            }
            "--tls-cert" | "--tls-key" => {
                eprintln!("{arg}: TLS is not in this build yet");
                std::process::exit(2);
            }
            _ => addr = arg,
        }
    }
    let options = ServerOptions {
        select_subprotocol: Arc::new(move |offered| {
            offered
                .iter()
                .find(|p| protocols.iter().any(|q| q == *p))
                .map(|p| (*p).to_owned())
        }),
        ..ServerOptions::default()
    };
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("echo server on ws://{}", listener.local_addr()?);
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    establish_standard_server(listener, options, stop, |mut ws| async move {
        while let Ok(Some(event)) = ws.recv().await {
            if let Event::Message(message) = event {
                if ws.send(message).await.is_err() {
                    break;
                }
            }
        }
    })
    .await
}
