//! A small command-line client: sends each line typed as a text message, prints what
//! arrives; Ctrl-D closes the connection cleanly.
//!
//! ```sh
//! cargo run -p ws-tokio --example wscat -- ws://HOST:PORT/path
//! cargo run -p ws-tokio --example wscat -- --insecure wss://localhost:9001/
//! ```
//!
//! `--insecure` accepts any server certificate (a self-signed one in development):
//! never in production.

use tokio::io::{AsyncBufReadExt, BufReader};
use ws_tokio::{CloseCode, ConnectOptions, Event, Message, connect};

#[tokio::main]
async fn main() -> Result<(), ws_tokio::Error> {
    let (insecure, url) = ws_testkit::examples::wscat_args("wscat");
    let options = ConnectOptions {
        tls: insecure.then(ws_testkit::examples::insecure_client_config),
        ..ConnectOptions::default()
    };
    let mut ws = connect(&url, options).await?;
    eprintln!("connected to {url} (Ctrl-D to close)");
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    loop {
        tokio::select! {
            // Both futures are cancel safe: losing the race loses nothing.
            line = lines.next_line(), if stdin_open => match line? {
                Some(line) => ws.send(line).await?,
                None => {
                    stdin_open = false;
                    ws.send_close(CloseCode::NORMAL, "").await?;
                }
            },
            event = ws.recv() => match event? {
                Some(Event::Message(Message::Text(text))) => println!("< {text}"),
                Some(Event::Message(Message::Binary(data))) => {
                    println!("< [{} bytes of binary] {:02x?}", data.len(), &data[..data.len().min(32)]);
                }
                Some(Event::Closed(reason)) => eprintln!("closed: {reason:?}"),
                Some(_) => {}
                None => break,
            },
        }
    }
    Ok(())
}
