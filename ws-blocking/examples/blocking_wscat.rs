//! A small command-line client: sends each line typed as a text message, prints what
//! arrives; Ctrl-D closes the connection cleanly.
//!
//! ```sh
//! cargo run -p ws-blocking --example blocking_wscat -- ws://HOST:PORT/path
//! cargo run -p ws-blocking --example blocking_wscat -- --insecure wss://localhost:9001/
//! ```
//!
//! `--insecure` accepts any server certificate (a self-signed one in development):
//! never in production.
//!
//! A thread reads the terminal; the main thread owns the socket and waits for it with
//! `recv_timeout`, one loop with no locks (`WebSocket::split` would serve as well, for
//! `ws://` and `wss://` alike).

use std::io::BufRead;
use std::sync::mpsc::{self, TryRecvError};
use std::time::Duration;

use ws_blocking::{CloseCode, ConnectOptions, Error, Event, Message, connect};

fn main() -> Result<(), Error> {
    let (insecure, url) = ws_testkit::examples::wscat_args("blocking_wscat");
    let options = ConnectOptions {
        tls: insecure.then(ws_testkit::examples::insecure_client_config),
        ..ConnectOptions::default()
    };
    let mut ws = connect(&url, options)?;
    eprintln!("connected to {url} (Ctrl-D to close)");
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut stdin_open = true;
    loop {
        while stdin_open {
            match lines.try_recv() {
                Ok(line) => ws.send(line)?,
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    stdin_open = false;
                    ws.send_close(CloseCode::NORMAL, "")?;
                }
            }
        }
        match ws.recv_timeout(Duration::from_millis(50)) {
            Ok(Some(Event::Message(Message::Text(text)))) => println!("< {text}"),
            Ok(Some(Event::Message(Message::Binary(data)))) => {
                println!(
                    "< [{} bytes of binary] {:02x?}",
                    data.len(),
                    &data[..data.len().min(32)]
                );
            }
            Ok(Some(Event::Closed(reason))) => eprintln!("closed: {reason:?}"),
            Ok(Some(_)) | Err(Error::RecvTimeout) => {}
            Ok(None) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
