//! The server the Autobahn|Testsuite fuzzing client tests: echoes every message, one
//! thread per connection.
//!
//! With the `deflate` feature it also accepts permessage-deflate.
//!
//! ```sh
//! cargo run --release -p ws-blocking --example blocking_autobahn_server -- [ADDR]   # 127.0.0.1:9001
//! ```

use ws_blocking::{Event, ServerOptions, StopHandle, establish_standard_server};

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = std::net::TcpListener::bind(&addr)?;
    eprintln!("autobahn server on ws://{}", listener.local_addr()?);
    establish_standard_server(listener, options(), StopHandle::new(), |mut ws| {
        while let Ok(Some(event)) = ws.recv() {
            if let Event::Message(message) = event {
                if ws.send(message).is_err() {
                    break;
                }
            }
        }
    })
}

/// The default options; with the `deflate` feature, permessage-deflate is accepted too
/// (Autobahn sections 12 and 13).
fn options() -> ServerOptions {
    #[allow(unused_mut)]
    let mut options = ServerOptions::default();
    #[cfg(feature = "deflate")]
    {
        options.config.deflate = Some(ws_blocking::DeflateConfig::default());
    }
    options
}
