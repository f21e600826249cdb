//! A sans-IO WebSocket (RFC 6455) protocol core: bytes in, events and bytes out.
//!
//! ```text
//!            bytes read                      bytes to write
//! transport ───────────▶ handle_input ┐    ┌ poll_transmit ───────────▶ transport
//!       EOF ───────────▶ handle_eof   ├──▶ │ poll_event    ───▶ the application
//!     clock ───────────▶ handle_timeout┘    │ poll_timeout  ───▶ the next wake-up
//! application ─ send / ping / close ─▶      └ should_close_transport
//! ```
//!
//! This crate never touches a socket, a runtime, a thread or a clock: the time is a
//! parameter (`now: Instant`) and so is the randomness of client masking keys and
//! handshake nonces ([`Entropy`]). Everything that is protocol lives here, so that the
//! adapters (`ws-tokio`, `ws-async-std`, `ws-blocking`) are loops around it:
//!
//! - [`handshake`]: the opening handshake of both roles, on [`http`] types;
//! - [`Connection`]: framing, masking, message assembly, UTF-8 validation, the ping and
//!   close policy, keepalive and close timers, size limits;
//! - [`frame`], [`mask`], [`utf8`], [`close`]: the pieces, usable on their own;
//! - [`Error`]: the one error type of every adapter.
//!
//! With the `drive` feature (off by default), `ws_proto::drive` is the async drive loop
//! the async adapters share: the socket, its split halves, `Stream` and `Sink`, and the
//! opening handshakes, written once and generic over a transport and a runtime that the
//! adapter supplies (`ws_proto::drive::Transport` and `Runtime`). Even then this crate
//! touches no socket, runtime or clock of its own.
//!
//! With the `deflate` feature (off by default), `ws_proto::deflate` is permessage-deflate
//! (RFC 7692): `Config::deflate` says what to offer or accept, the handshakes negotiate
//! it (`ClientHandshake::offer_extensions`, `UpgradeRequest::negotiate_extensions`), and
//! `Connection::with_extensions` turns it on; from then on messages are compressed and
//! inflated inside the connection, the message limit applying to inflated sizes.
//!
//! # The drive loop
//!
//! After every input or command, drain the outputs:
//!
//! 1. hand [`Connection::poll_event`]s to the application until `None` (input is
//!    decoded as events are polled, so each message is handled, and its answer queued,
//!    before the next frame is looked at);
//! 2. write what [`Connection::poll_transmit`] appends, until it returns 0;
//! 3. if [`Connection::should_close_transport`], close the transport and stop (if
//!    [`Connection::should_abort_transport`], the peer stopped reading: close without
//!    waiting to write what you still hold);
//! 4. wait for bytes or for [`Connection::poll_timeout`], whichever comes first, and feed
//!    [`Connection::handle_input`], [`Connection::handle_eof`] or
//!    [`Connection::handle_timeout`] (and, when a write fails,
//!    [`Connection::handle_write_error`]).
//!
//! The loop below is the simplest one. A fast adapter reads straight into
//! [`Connection::read_buffer_for`], asking for at most the limit it gives (then
//! [`Connection::handle_read`]), writes with
//! [`Connection::poll_transmit_into`] and one vectored write of the [`OutputBuffer`]
//! (large unmasked payloads are referenced, not copied), and calls
//! [`Connection::release_buffers`] when the connection has been idle for a while.
//!
//! With `std::net` (error handling shortened):
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use std::time::Instant;
//! use ws_proto::{Config, Connection, Event, Role};
//!
//! # fn main() -> std::io::Result<()> {
//! # let mut stream = std::net::TcpStream::connect("127.0.0.1:9001")?;
//! let mut conn = Connection::new(Role::Server, Config::default(), Instant::now());
//! let mut out = Vec::new();
//! let mut buf = [0u8; 16 * 1024];
//! loop {
//!     while let Some(event) = conn.poll_event() {
//!         if let Event::Message(message) = event {
//!             conn.send(message).ok(); // echo
//!         }
//!     }
//!     while conn.poll_transmit(&mut out) > 0 {
//!         stream.write_all(&out)?;
//!         out.clear();
//!     }
//!     if conn.should_close_transport() {
//!         break;
//!     }
//!     let timeout = conn.poll_timeout().map(|t| t.saturating_duration_since(Instant::now()));
//!     stream.set_read_timeout(timeout.map(|t| t.max(std::time::Duration::from_millis(1))))?;
//!     match stream.read(&mut buf) {
//!         Ok(0) => conn.handle_eof(Instant::now()),
//!         Ok(n) => conn.handle_input(&buf[..n], Instant::now()),
//!         Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
//!             conn.handle_timeout(Instant::now())
//!         }
//!         Err(e) => return Err(e),
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Both machines by hand
//!
//! A client and a server talking through two byte vectors, with a fixed seed and a
//! virtual clock:
//!
//! ```
//! use std::time::Instant;
//! use http::HeaderMap;
//! use ws_proto::handshake::{ClientHandshake, ClientOptions, ServerHandshake};
//! use ws_proto::{CloseCode, CloseReason, Config, Connection, Event, Message, Role, SeededEntropy};
//!
//! let now = Instant::now();
//! let mut entropy = SeededEntropy::new(42);
//!
//! // Opening handshake.
//! let uri = "ws://example.com/chat".parse().unwrap();
//! let mut client_hs = ClientHandshake::new(&uri, &ClientOptions::default(), &mut entropy).unwrap();
//! let mut wire = Vec::new();
//! client_hs.write_request(&mut wire);
//! let upgrade = ServerHandshake::default().handle_input(&wire).unwrap().unwrap();
//! assert!(ws_proto::handshake::check_origin_with_host(upgrade.request()));
//! wire.clear();
//! upgrade.accept(None, &HeaderMap::new(), &mut wire).unwrap();
//! let accepted = client_hs.handle_input(&wire).unwrap().unwrap();
//! assert_eq!(accepted.response.status(), 101);
//!
//! // The connections.
//! let mut client = Connection::with_entropy(Role::Client, Config::default(), now, Box::new(entropy));
//! let mut server = Connection::new(Role::Server, Config::default(), now);
//!
//! client.send("hello").unwrap();
//! wire.clear();
//! while client.poll_transmit(&mut wire) > 0 {}
//! server.handle_input(&wire, now);
//! assert_eq!(server.poll_event(), Some(Event::Message(Message::from("hello"))));
//!
//! // The server closes; the client answers; both report the same ending.
//! server.close(CloseCode::NORMAL, "bye").unwrap();
//! wire.clear();
//! while server.poll_transmit(&mut wire) > 0 {}
//! client.handle_input(&wire, now);
//! let Some(Event::Closed(CloseReason::Handshake { peer: Some(frame), initiated_locally: false })) =
//!     client.poll_event()
//! else {
//!     panic!("expected the close handshake");
//! };
//! assert_eq!((frame.code, frame.reason.as_str()), (CloseCode::NORMAL, "bye"));
//! wire.clear();
//! while client.poll_transmit(&mut wire) > 0 {}
//! server.handle_input(&wire, now);
//! assert!(matches!(server.poll_event(), Some(Event::Closed(CloseReason::Handshake { .. }))));
//! assert!(server.should_close_transport()); // the server closes the TCP connection first
//! ```
#![deny(unsafe_code)]

pub mod adapter;
pub mod close;
mod config;
mod connection;
#[cfg(feature = "deflate")]
pub mod deflate;
#[cfg(feature = "drive")]
pub mod drive;
mod entropy;
mod error;
mod event;
pub mod frame;
pub mod handshake;
pub mod mask;
mod output;
pub mod pacing;
pub mod utf8;

pub use close::{CloseCode, CloseFrame};
pub use config::{Config, KeepAlive, Policy};
pub use connection::{
    Connection, DEFAULT_READ_SIZE, DEFAULT_READ_SIZE_ZEROED, MAX_READ_SIZE, Role, State,
};
#[cfg(feature = "deflate")]
pub use deflate::{DeflateConfig, DeflateParams};
pub use entropy::{Entropy, OsEntropy, SeededEntropy};
pub use error::{Error, ProtocolError, Rejection, RequestError, ResponseError, UsageError};
pub use event::{CloseReason, Event, Message};
pub use frame::{Frame, OpCode};
pub use handshake::HandshakeLimits;
pub use output::{BufferPool, OutputBuffer};
pub use utf8::Utf8Bytes;

pub use bytes;
pub use http;
