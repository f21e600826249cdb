//! The client the Autobahn|Testsuite fuzzing server tests, on async-std: runs every
//! case it offers (echoing every message), then asks it to write the reports.
//!
//! With the `deflate` feature it also offers permessage-deflate.
//!
//! ```sh
//! cargo run --release -p ws-async-std --example async_std_autobahn_client -- ws://HOST:PORT [AGENT]
//! ```

use ws_async_std::{ConnectOptions, Message, connect};

#[async_std::main]
async fn main() -> Result<(), ws_async_std::Error> {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let agent = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "ws-async-std".into());

    let mut ws = connect(&format!("{base}/getCaseCount"), options()).await?;
    let count: u32 = match ws.recv_message().await? {
        Some(Message::Text(text)) => text.parse().unwrap_or(0),
        _ => 0,
    };
    while ws.recv().await?.is_some() {}
    eprintln!("{count} cases");

    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        if let Err(e) = echo(&url).await {
            eprintln!("case {case}: {e}");
        }
    }

    let mut ws = connect(&format!("{base}/updateReports?agent={agent}"), options()).await?;
    while ws.recv().await?.is_some() {}
    Ok(())
}

async fn echo(url: &str) -> Result<(), ws_async_std::Error> {
    let mut ws = connect(url, options()).await?;
    while let Some(message) = ws.recv_message().await? {
        ws.send(message).await?;
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
        options.config.deflate = Some(ws_async_std::DeflateConfig::default());
    }
    options
}
