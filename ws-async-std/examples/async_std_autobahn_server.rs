//! The server the Autobahn|Testsuite fuzzing client tests, on async-std: echoes every
//! message.
//!
//! With the `deflate` feature it also accepts permessage-deflate.
//!
//! ```sh
//! cargo run --release -p ws-async-std --example async_std_autobahn_server -- [ADDR]   # 127.0.0.1:9001
//! ```

use ws_async_std::async_net::TcpListener;
use ws_async_std::{Event, ServerOptions, establish_standard_server};

#[async_std::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("autobahn server on ws://{}", listener.local_addr()?);
    // Runs until it is killed.
    let stop = std::future::pending::<()>();
    establish_standard_server(listener, options(), stop, |mut ws| async move {
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

/// The default options; with the `deflate` feature, permessage-deflate is accepted too
/// (Autobahn sections 12 and 13).
fn options() -> ServerOptions {
    #[allow(unused_mut)]
    let mut options = ServerOptions::default();
    #[cfg(feature = "deflate")]
    {
        options.config.deflate = Some(ws_async_std::DeflateConfig::default());
    }
    options
}
