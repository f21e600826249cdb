//! A small command-line client: sends each line typed as a text message, prints what
//! arrives; Ctrl-D closes the connection cleanly.
//!
//! ```sh
//! cargo run -p ws-tokio --example wscat -- ws://HOST:PORT/path
//! ```

use tokio::io::{AsyncBufReadExt, BufReader};
use ws_tokio::{CloseCode, ConnectOptions, Event, Message, connect};

#[tokio::main]
async fn main() -> Result<(), ws_tokio::Error> {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: wscat ws://HOST:PORT/path");
        std::process::exit(2);
    };
    let mut ws = connect(&url, ConnectOptions::default()).await?;
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
