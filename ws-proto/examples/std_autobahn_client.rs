//! The client role of the core against the Autobahn fuzzing server, over `std::net`:
//! asks for the case count, runs every case (echoing what arrives), then asks for the
//! reports.
//!
//! ```sh
//! cargo run --release -p ws-proto --example std_autobahn_client -- ws://127.0.0.1:9001 [AGENT]
//! ```
#![allow(clippy::disallowed_methods)] // an I/O loop: it reads the clock for the core

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use ws_proto::handshake::{ClientHandshake, ClientOptions, Target};
use ws_proto::{Config, Connection, Event, Message, OsEntropy, Role};

mod support;

fn main() -> io::Result<()> {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let agent = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "ws-proto-std".into());
    let mut count = 0;
    session(&format!("{base}/getCaseCount"), |_, event| {
        if let Event::Message(Message::Text(text)) = event {
            count = text.parse().unwrap_or(0);
        }
    })?;
    eprintln!("{count} cases");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        if let Err(e) = session(&url, support::echo) {
            eprintln!("case {case}: {e}");
        }
    }
    session(&format!("{base}/updateReports?agent={agent}"), |_, _| {})
}

/// Connects to `url`, performs the opening handshake, and drives the connection.
fn session(url: &str, on_event: impl FnMut(&mut Connection, Event)) -> io::Result<()> {
    let uri = url.parse().map_err(io::Error::other)?;
    let target = Target::from_uri(&uri).map_err(io::Error::other)?;
    let mut stream = TcpStream::connect((target.host.as_str(), target.port))?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut entropy = OsEntropy::new();
    let mut handshake = ClientHandshake::new(&uri, &ClientOptions::default(), &mut entropy)
        .map_err(io::Error::other)?;
    let mut out = Vec::new();
    handshake.write_request(&mut out);
    stream.write_all(&out)?;
    let mut buf = [0u8; 4096];
    let response = loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if let Some(response) = handshake
            .handle_input(&buf[..n])
            .map_err(io::Error::other)?
        {
            break response;
        }
    };
    let mut conn = Connection::with_entropy(
        Role::Client,
        Config::default(),
        Instant::now(),
        Box::new(entropy),
    );
    conn.handle_input(&response.leftover, Instant::now());
    support::drive(&mut stream, &mut conn, on_event)
}
