//! The sans-IO drive loop over `std::net`, one thread per connection: an echo server
//! that answers every message with the same message.
//!
//! ```sh
//! cargo run --release -p ws-proto --example std_echo_server -- 127.0.0.1:9001
//! ```
//!
//! It exists to show the loop of the crate docs in full and to run the Autobahn
//! testsuite against the core alone; the real blocking adapter is `ws-blocking`.
#![allow(clippy::disallowed_methods)] // an I/O loop: it reads the clock for the core

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use http::HeaderMap;
use ws_proto::handshake::{ServerHandshake, check_origin_with_host};
use ws_proto::{Config, Connection, HandshakeLimits, RequestError, Role};

mod support;

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr)?;
    eprintln!("echo server on ws://{}", listener.local_addr()?);
    for stream in listener.incoming() {
        let stream = stream?;
        std::thread::spawn(move || {
            if let Err(e) = serve(stream) {
                eprintln!("connection error: {e}");
            }
        });
    }
    Ok(())
}

fn serve(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut out = Vec::new();

    // Opening handshake, bounded in time.
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut handshake = ServerHandshake::new(HandshakeLimits::default());
    let upgrade = loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        match handshake.handle_input(&buf[..n]) {
            Ok(None) => continue,
            Ok(Some(upgrade)) if check_origin_with_host(upgrade.request()) => break upgrade,
            Ok(Some(upgrade)) => {
                upgrade.reject(&RequestError::Forbidden, &mut out);
                return stream.write_all(&out);
            }
            Err(e) => {
                let (response, body) = ws_proto::handshake::error_response(&e);
                ws_proto::handshake::write_response(&response, &body, &mut out);
                return stream.write_all(&out);
            }
        }
    };
    upgrade
        .accept(None, &HeaderMap::new(), &mut out)
        .map_err(io::Error::other)?;
    stream.write_all(&out)?;
    out.clear();

    let mut conn = Connection::new(Role::Server, Config::default(), Instant::now());
    conn.handle_input(upgrade.leftover(), Instant::now());
    support::drive(&mut stream, &mut conn, support::echo)
}
