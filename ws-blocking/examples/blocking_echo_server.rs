//! An echo server with the default options (so the Origin == Host check is on), one
//! thread per connection: every message comes back with its type.
//!
//! ```sh
//! cargo run --release -p ws-blocking --example blocking_echo_server -- [ADDR] [--tls-cert PEM --tls-key PEM] [--subprotocols a,b]
//! ```
//!
//! `ADDR` defaults to 127.0.0.1:9001. With a certificate chain and a key, it serves
//! `wss://`. With `--subprotocols`, the first protocol the client offers that is in the
//! list is selected. It runs until killed; a program that wants a graceful stop calls
//! [`StopHandle::stop`](ws_blocking::StopHandle::stop) from another thread.

use std::sync::Arc;

use ws_blocking::{Event, ServerOptions, StopHandle, establish_standard_server};
use ws_testkit::examples::EchoArgs;

fn main() -> std::io::Result<()> {
    let args = EchoArgs::parse();
    let tls = match &args.tls {
        Some((cert, key)) => Some(
            ws_blocking::tls::server_config_from_pem(cert, key).map_err(std::io::Error::other)?,
        ),
        None => None,
    };
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    let options = ServerOptions {
        tls,
        select_subprotocol: Arc::new(args.select_subprotocol()),
        ..ServerOptions::default()
    };
    let listener = std::net::TcpListener::bind(&args.addr)?;
    eprintln!("echo server on {scheme}://{}", listener.local_addr()?);
    establish_standard_server(listener, options, StopHandle::new(), |mut ws| {
        while let Ok(Some(event)) = ws.recv() {
            // `queue`, not `send`: the answers to a burst of messages go out together,
            // in one write, when `recv` runs out of input (a connection alone with
            // input in hand writes small answers at each `recv`: `queue`'s docs).
            if let Event::Message(message) = event
                && ws.queue(message).is_err()
            {
                break;
            }
        }
    })
}
