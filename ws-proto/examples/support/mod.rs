//! The drive loop of the crate docs over a `std::net::TcpStream`, shared by the
//! examples. The real blocking adapter is `ws-blocking`; this is the minimum that shows
//! the contract in full.
#![allow(clippy::disallowed_methods)] // an I/O loop: it reads the clock for the core

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use ws_proto::{Connection, Event};

/// Runs `conn` over `stream` until the transport should close, calling `on_event` for
/// every event (it may queue answers on the connection).
pub(crate) fn drive(
    stream: &mut TcpStream,
    conn: &mut Connection,
    mut on_event: impl FnMut(&mut Connection, Event),
) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::new();
    loop {
        while let Some(event) = conn.poll_event() {
            on_event(conn, event);
        }
        while conn.poll_transmit(&mut out) > 0 {
            stream.write_all(&out)?;
            out.clear();
        }
        if conn.should_close_transport() {
            return Ok(());
        }
        let timeout = conn.poll_timeout().map(|t| {
            t.saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1))
        });
        stream.set_read_timeout(timeout)?;
        match stream.read(&mut buf) {
            Ok(0) => conn.handle_eof(Instant::now()),
            Ok(n) => conn.handle_input(&buf[..n], Instant::now()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                conn.handle_timeout(Instant::now())
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => conn.handle_eof(Instant::now()),
            Err(e) => return Err(e),
        }
    }
}

/// Answers every message with the same message.
pub(crate) fn echo(conn: &mut Connection, event: Event) {
    if let Event::Message(message) = event {
        // Fails only once the connection is closing; then there is no one to answer.
        let _ = conn.send(message);
    }
}
