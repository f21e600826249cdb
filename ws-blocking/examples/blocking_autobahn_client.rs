//! The client the Autobahn|Testsuite fuzzing server tests: runs every case it offers
//! (echoing every message), then asks it to write the reports.
//!
//! With the `deflate` feature it also offers permessage-deflate.
//!
//! ```sh
//! cargo run --release -p ws-blocking --example blocking_autobahn_client -- ws://HOST:PORT [AGENT]
//! ```

use ws_blocking::{ConnectOptions, Message, connect};

fn main() -> Result<(), ws_blocking::Error> {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let agent = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "ws-blocking".into());

    let mut ws = connect(&format!("{base}/getCaseCount"), options())?;
    let count: u32 = match ws.recv_message()? {
        Some(Message::Text(text)) => text.parse().unwrap_or(0),
        _ => 0,
    };
    while ws.recv()?.is_some() {}
    eprintln!("{count} cases");

    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        if let Err(e) = echo(&url) {
            eprintln!("case {case}: {e}");
        }
    }

    let mut ws = connect(&format!("{base}/updateReports?agent={agent}"), options())?;
    while ws.recv()?.is_some() {}
    Ok(())
}

fn echo(url: &str) -> Result<(), ws_blocking::Error> {
    let mut ws = connect(url, options())?;
    while let Some(message) = ws.recv_message()? {
        ws.send(message)?;
    }
    Ok(())
}

/// The default options; with the `deflate` feature, permessage-deflate is offered too
/// (Autobahn sections 12 and 13).
fn options() -> ConnectOptions {
    #[allow(unused_mut)]
    let mut options = ConnectOptions::default();
    #[cfg(feature = "deflate")]
    {
        options.config.deflate = Some(ws_blocking::DeflateConfig::default());
    }
    options
}
