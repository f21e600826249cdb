//! A small command-line client on async-std: sends each line typed as a text message,
//! prints what arrives; Ctrl-D closes the connection cleanly.
//!
//! ```sh
//! cargo run -p ws-async-std --example async_std_wscat -- ws://HOST:PORT/path
//! cargo run -p ws-async-std --example async_std_wscat -- --insecure wss://localhost:9001/
//! ```
//!
//! `--insecure` accepts any server certificate (a self-signed one in development):
//! never in production.

use async_std::io::BufReadExt;
use futures_lite::StreamExt;
use futures_lite::future::or;
use ws_async_std::{CloseCode, ConnectOptions, Event, Message, connect};

/// What woke the loop up.
enum Input {
    Line(Option<std::io::Result<String>>),
    Event(Result<Option<Event>, ws_async_std::Error>),
}

#[async_std::main]
async fn main() -> Result<(), ws_async_std::Error> {
    let (insecure, url) = ws_testkit::examples::wscat_args("async_std_wscat");
    let options = ConnectOptions {
        tls: insecure.then(ws_testkit::examples::insecure_client_config),
        ..ConnectOptions::default()
    };
    let mut ws = connect(&url, options).await?;
    eprintln!("connected to {url} (Ctrl-D to close)");
    let mut lines = async_std::io::BufReader::new(async_std::io::stdin()).lines();
    let mut stdin_open = true;
    loop {
        // Both futures are cancel safe: the one that loses the race loses nothing (the
        // line reader keeps a partial line in `lines`, the socket in `ws`).
        let next_line = async {
            if stdin_open {
                Input::Line(lines.next().await)
            } else {
                std::future::pending().await
            }
        };
        let input = or(next_line, async { Input::Event(ws.recv().await) }).await;
        match input {
            Input::Line(Some(line)) => ws.send(line?).await?,
            Input::Line(None) => {
                stdin_open = false;
                ws.send_close(CloseCode::NORMAL, "").await?;
            }
            Input::Event(event) => match event? {
                Some(Event::Message(Message::Text(text))) => println!("< {text}"),
                Some(Event::Message(Message::Binary(data))) => {
                    println!(
                        "< [{} bytes of binary] {:02x?}",
                        data.len(),
                        &data[..data.len().min(32)]
                    );
                }
                Some(Event::Closed(reason)) => eprintln!("closed: {reason:?}"),
                Some(_) => {}
                None => break,
            },
        }
    }
    Ok(())
}
